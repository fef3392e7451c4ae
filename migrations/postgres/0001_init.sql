-- Facilitator schema, PostgreSQL. Kept in step with migrations/sqlite/0001_init.sql.
-- Times are Unix milliseconds (UTC), flags are 0/1 integers, as in the SQLite schema,
-- so one code path (sqlx Any) reads both.

CREATE TABLE persons (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    tz TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES persons(id),
    PRIMARY KEY (platform, handle)
);

CREATE TABLE schools (
    id BIGINT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE courses (
    id BIGINT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    school_id BIGINT REFERENCES schools(id),
    cycle TEXT,
    start_date TEXT NOT NULL,
    weeks BIGINT NOT NULL,
    tz TEXT NOT NULL,
    prompt_cron TEXT NOT NULL,
    deadline_minutes BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES persons(id)
);

CREATE TABLE members (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    person_id BIGINT NOT NULL REFERENCES persons(id),
    role TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, person_id)
);

-- Every version of a course's syllabus; the highest version is the current one.
CREATE TABLE syllabi (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    loaded_by BIGINT NOT NULL,
    loaded_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, version)
);

CREATE TABLE weeks (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    week BIGINT NOT NULL,
    prompt_at BIGINT NOT NULL,
    posted_at BIGINT NOT NULL,
    late BIGINT NOT NULL,
    PRIMARY KEY (course_id, week)
);

CREATE TABLE submissions (
    id BIGINT PRIMARY KEY,
    course_id BIGINT NOT NULL REFERENCES courses(id),
    week BIGINT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES persons(id),
    first_at BIGINT NOT NULL,
    late BIGINT NOT NULL,
    revisions BIGINT NOT NULL,
    latest_at BIGINT NOT NULL,
    UNIQUE (course_id, week, person_id)
);

CREATE TABLE submission_revisions (
    submission_id BIGINT NOT NULL REFERENCES submissions(id),
    revision BIGINT NOT NULL,
    body TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    late BIGINT NOT NULL,
    PRIMARY KEY (submission_id, revision)
);

CREATE TABLE jobs (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    kind TEXT NOT NULL,
    week BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, kind, week)
);
CREATE INDEX jobs_due ON jobs (due_at);

-- Effects are stored here, with their idempotency key, in the same transaction as the
-- changes that caused them, and performed afterwards.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    state BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    done_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (state, id);

-- Platform event ids already handled, so a replayed event is not acted on twice.
CREATE TABLE inbound (
    key TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

-- The platform rooms of courses and schools.
CREATE TABLE rooms (
    owner_kind TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    platform TEXT NOT NULL,
    room TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, platform)
);
