-- Deadlines, review windows and leases in seconds (schedules of seconds are used in tests and
-- demonstrations). Kept in step between migrations/sqlite and migrations/postgres.

ALTER TABLE courses ADD COLUMN deadline_seconds BIGINT NOT NULL DEFAULT 432000;
ALTER TABLE courses ADD COLUMN review_seconds BIGINT NOT NULL DEFAULT 172800;
ALTER TABLE courses ADD COLUMN lease_seconds BIGINT NOT NULL DEFAULT 172800;
UPDATE courses SET deadline_seconds = deadline_minutes * 60, review_seconds = review_minutes * 60, lease_seconds = lease_minutes * 60;
ALTER TABLE courses DROP COLUMN deadline_minutes;
ALTER TABLE courses DROP COLUMN review_minutes;
ALTER TABLE courses DROP COLUMN lease_minutes;
