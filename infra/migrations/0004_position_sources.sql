-- The Kafka cluster whose offsets a consumer group's positions are. A position means "everything
-- below this offset is applied" only on the topic it was taken from; a new broker, a recreated
-- topic or a failover starts its offsets again, and old positions would drop every new wager as
-- already applied. The aggregator checks this row and the partitions' offset ranges before it
-- applies anything (shared/src/domain/positions.ts), and `npm run jackpot -- positions rebase`
-- moves a group onto a new topic on purpose.
CREATE TABLE jackpot.consumer_sources (
  group_id     text NOT NULL,
  topic        text NOT NULL,
  cluster_id   text NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic)
);

-- Positions are now created when a partition is assigned (at the partition's first offset), never
-- by the window transaction; -1 ("nothing applied yet") rows of older versions are replaced then.
