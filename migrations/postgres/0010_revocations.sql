-- Badges taken back (`!badge revoke`): the award row is deleted and kept here, so its hosted
-- assertion answers "revoked" with the reason. Kept in step with
-- migrations/sqlite/0010_revocations.sql.

CREATE TABLE revocations (
    course_id BIGINT NOT NULL REFERENCES courses(id),
    badge TEXT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES persons(id),
    awarded_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    revoked_by BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, badge, person_id, awarded_at)
);
