-- Signing into the web face's dashboard: one-time links (`!dashboard`, valid 15 minutes, used
-- once) and the sessions they open (a cookie). Only SHA-256 hashes of the secrets are stored.
-- Kept in step between migrations/sqlite and migrations/postgres.

CREATE TABLE web_logins (
    token_hash TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX web_sessions_person ON web_sessions (person_id);
