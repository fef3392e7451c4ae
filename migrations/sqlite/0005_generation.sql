-- The generation of the stored state: every write batch that changes the domain, and every new
-- room or thread mapping, adds one. Each process remembers the generation its memory reflects
-- and reloads when the database has moved on (another instance wrote), inside the batch that
-- holds this row (FOR UPDATE on PostgreSQL), so instances decide one at a time, on the latest
-- state. Kept in step between migrations/sqlite and migrations/postgres.

CREATE TABLE generation (
    id BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO generation (id, value) VALUES (1, 0);
