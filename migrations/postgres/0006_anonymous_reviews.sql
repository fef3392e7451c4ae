-- A review's anonymity is fixed when it is first written: a later `anonymous=no` must not
-- unmask it in a revision. Reviews written before this column existed take their course's
-- setting as it is now. Kept in step between migrations/sqlite and migrations/postgres.

ALTER TABLE reviews ADD COLUMN anonymous BIGINT NOT NULL DEFAULT 0;
UPDATE reviews SET anonymous = (
    SELECT c.anonymous FROM courses c JOIN assignments a ON a.course_id = c.id
    WHERE a.id = reviews.assignment_id
);
