-- Jobs name what they are about (`about`: the kind of subject, `about_id`: which one) instead
-- of a course, so things that are not course weeks (a proposal's vote, a help ticket, a survey)
-- can be scheduled in the same table. `week` is a course job's week, 0 for a subject without
-- weeks. Kept in step between migrations/sqlite and migrations/postgres.

CREATE TABLE jobs_by_subject (
    about TEXT NOT NULL,
    about_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    week BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (about, about_id, kind, week)
);
INSERT INTO jobs_by_subject (about, about_id, kind, week, due_at)
    SELECT 'course', course_id, kind, week, due_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_by_subject RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (due_at);
