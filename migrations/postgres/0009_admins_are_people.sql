-- Bot admins are people in the domain: the config's `[bot] admins` is synced onto this flag
-- when the bot starts, so decisions and jobs can address them like anyone else. Kept in step
-- between migrations/sqlite and migrations/postgres.

ALTER TABLE persons ADD COLUMN admin BIGINT NOT NULL DEFAULT 0;
