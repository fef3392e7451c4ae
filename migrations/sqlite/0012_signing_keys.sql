-- The issuer's signing key for Open Badges 3.0 credentials (Ed25519, the 32-byte secret in
-- base64url), made by the first instance that serves the web face and shared by all of them,
-- so every instance signs with the key the published JWKS names. Kept in step between
-- migrations/sqlite and migrations/postgres.

CREATE TABLE signing_keys (
    id BIGINT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
