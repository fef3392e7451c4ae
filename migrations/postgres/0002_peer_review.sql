-- Peer review and badges. Kept in step with migrations/sqlite/0002_peer_review.sql.

ALTER TABLE courses ADD COLUMN reviews BIGINT NOT NULL DEFAULT 2;
ALTER TABLE courses ADD COLUMN review_minutes BIGINT NOT NULL DEFAULT 2880;
ALTER TABLE courses ADD COLUMN lease_minutes BIGINT NOT NULL DEFAULT 2880;
ALTER TABLE courses ADD COLUMN anonymous BIGINT NOT NULL DEFAULT 0;
-- The pairing seed (a u64 stored as its two's-complement i64).
ALTER TABLE courses ADD COLUMN seed BIGINT NOT NULL DEFAULT 0;

CREATE TABLE pairings (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    week BIGINT NOT NULL,
    paired_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, week)
);

CREATE TABLE assignments (
    id BIGINT PRIMARY KEY,
    course_id BIGINT NOT NULL REFERENCES courses(id),
    week BIGINT NOT NULL,
    submission_id BIGINT NOT NULL REFERENCES submissions(id),
    author_id BIGINT NOT NULL REFERENCES persons(id),
    reviewer_id BIGINT NOT NULL REFERENCES persons(id),
    role TEXT NOT NULL,
    assigned_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    reminders BIGINT NOT NULL DEFAULT 0,
    last_reminder BIGINT
);
CREATE INDEX assignments_reviewer ON assignments (reviewer_id, status);

CREATE TABLE reviews (
    assignment_id BIGINT PRIMARY KEY REFERENCES assignments(id),
    feedback TEXT NOT NULL,
    score BIGINT,
    revisions BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    latest_at BIGINT NOT NULL
);

-- Every version of every review.
CREATE TABLE review_revisions (
    assignment_id BIGINT NOT NULL REFERENCES assignments(id),
    revision BIGINT NOT NULL,
    feedback TEXT NOT NULL,
    score BIGINT,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (assignment_id, revision)
);

CREATE TABLE awards (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    badge TEXT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES persons(id),
    reason TEXT NOT NULL,
    awarded_by BIGINT,
    awarded_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, badge, person_id)
);

CREATE TABLE nominations (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    badge TEXT NOT NULL,
    nominee_id BIGINT NOT NULL REFERENCES persons(id),
    nominator_id BIGINT NOT NULL REFERENCES persons(id),
    reason TEXT NOT NULL,
    nominated_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, badge, nominee_id, nominator_id)
);
