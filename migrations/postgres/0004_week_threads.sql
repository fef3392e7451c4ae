-- Weekly threads: a course setting, and the platform thread each week's prompt opened (so a
-- command said in a thread counts for that week, and replies stay in the thread). Kept in step
-- between migrations/sqlite and migrations/postgres.

ALTER TABLE courses ADD COLUMN threads BIGINT NOT NULL DEFAULT 0;

CREATE TABLE week_threads (
    course_id BIGINT NOT NULL,
    week BIGINT NOT NULL,
    platform TEXT NOT NULL,
    room TEXT NOT NULL,
    root TEXT NOT NULL,
    PRIMARY KEY (course_id, week, platform)
);
