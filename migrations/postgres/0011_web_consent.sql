-- What the web face may show. A course is listed publicly unless its organizers say
-- `public=no`; a person is named on the web only after `!profile public`; the email a person
-- gave for their badges (`!badge email`) is private and only ever published hashed. Kept in
-- step between migrations/sqlite and migrations/postgres.

ALTER TABLE courses ADD COLUMN public BIGINT NOT NULL DEFAULT 1;
ALTER TABLE persons ADD COLUMN public BIGINT NOT NULL DEFAULT 0;
ALTER TABLE persons ADD COLUMN badge_email TEXT;
