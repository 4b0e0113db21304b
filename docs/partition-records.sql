-- Partition `records` by month (PostgreSQL), so that old months are dropped whole instead of
-- deleted row by row. Run it once with psql, after `alembic upgrade head`, in a quiet moment: it
-- copies every record in one transaction (nothing is lost if it fails). docs/operations.md says
-- how to keep it up; tests/history/test_partitioned.py runs this file as it is.
BEGIN;

ALTER TABLE records RENAME TO records_unpartitioned;
DO $$
DECLARE index_name text;
BEGIN
  FOR index_name IN SELECT indexname FROM pg_indexes WHERE tablename = 'records_unpartitioned' LOOP
    EXECUTE format('ALTER INDEX %I RENAME TO %I', index_name, index_name || '_unpartitioned');
  END LOOP;
END $$;

-- The same columns, defaults, checks and generated search vector; the key holds the month too.
CREATE TABLE records (LIKE records_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)
  PARTITION BY RANGE (created_at);
ALTER TABLE records ADD CONSTRAINT records_pkey PRIMARY KEY (id, created_at);
CREATE INDEX ix_records_created_id ON records (created_at DESC, id DESC);
CREATE INDEX ix_records_conversation ON records (conversation_id, created_at);
CREATE INDEX ix_records_status_heartbeat ON records (status, heartbeat_at);
CREATE INDEX ix_records_key_created_id ON records (api_key_id, created_at DESC, id DESC);
CREATE INDEX ix_records_unredacted ON records (created_at) WHERE redacted_at IS NULL;
CREATE INDEX ix_records_search ON records USING gin (search_vector);
CREATE TRIGGER records_usage AFTER UPDATE OF status ON records FOR EACH ROW
  WHEN (OLD.status = 'streaming' AND NEW.status <> 'streaming') EXECUTE FUNCTION records_usage();

-- One partition a month (UTC), made ahead of time by `SELECT records_partition(<a day of it>)`;
-- whatever no partition holds lands in records_default.
CREATE OR REPLACE FUNCTION records_partition(day date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  first date := date_trunc('month', day)::date;
  name text := 'records_' || to_char(first, 'YYYY_MM');
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF records FOR VALUES FROM (%L) TO (%L)', name,
                 first::timestamp AT TIME ZONE 'UTC', (first + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  RETURN name;
END $$;
CREATE TABLE records_default PARTITION OF records DEFAULT;

-- A partition for every month that has records, this month and the next two; then the copy.
SELECT records_partition(month::date) FROM (
  SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') AS month FROM records_unpartitioned
  UNION SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                               date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months', interval '1 month')
) AS months;
DO $$
DECLARE columns text;
BEGIN
  SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) INTO columns
    FROM information_schema.columns
   WHERE table_schema = current_schema() AND table_name = 'records_unpartitioned' AND is_generated = 'NEVER';
  EXECUTE format('INSERT INTO records (%s) SELECT %s FROM records_unpartitioned', columns, columns);
END $$;
DROP TABLE records_unpartitioned;

COMMIT;
