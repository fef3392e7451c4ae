-- Fair delivery: each effect belongs to a lane (a course's room, a person's direct messages,
-- another room's replies). Order is kept within a lane; lanes take turns, so one room's backlog
-- or retry backoff never holds another's messages. Effects queued before lanes existed share
-- the lane '' and keep their order. Kept in step between migrations/sqlite and
-- migrations/postgres.

ALTER TABLE outbox ADD COLUMN lane TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_lanes ON outbox (state, lane, id);
