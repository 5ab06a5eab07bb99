-- shoplab analytics: event-time tumbling windows over OrderPlaced events.
-- The single source of truth of the Flink job; services/analytics/README.md
-- is the contract it is held to (the Go engine and the golden fixtures).
-- ${name} variables are rendered by the launcher (Launcher --render prints
-- the rendered file for `sql-client.sh -j <job jar> -f`):
--   brokers, input_topic, output_topic, late_topic, group_id, window_ms,
--   out_of_orderness_ms, idle_timeout, state_ttl, startup_mode, bounded_mode
SET 'table.local-time-zone' = 'UTC';
SET 'table.exec.source.idle-timeout' = '${idle_timeout}';
-- Dedup state: processing-time TTL standing in for the Go engine's
-- watermark-time retention (README "Where Flink differs").
SET 'table.exec.state.ttl' = '${state_ttl}';

CREATE TEMPORARY SYSTEM FUNCTION top_products AS 'dev.shoplab.analytics.TopProducts';
CREATE TEMPORARY SYSTEM FUNCTION sorted_strings AS 'dev.shoplab.analytics.SortedStrings';
CREATE TEMPORARY SYSTEM FUNCTION item_units AS 'dev.shoplab.analytics.ItemUnits';
CREATE TEMPORARY SYSTEM FUNCTION window_closed AS 'dev.shoplab.analytics.WindowClosed';

CREATE TEMPORARY TABLE orders_src (
  schema_version INT,
  event_id STRING,
  `type` STRING,
  occurred_at TIMESTAMP_LTZ(3),
  order_id STRING,
  user_id STRING,
  items ARRAY<ROW<product_id STRING, quantity INT, unit_price_cents BIGINT, category STRING>>,
  total_cents BIGINT,
  proc AS PROCTIME(),
  -- A record without occurred_at must not fail the watermark assigner;
  -- the epoch never moves a watermark and the row is filtered below.
  ts AS COALESCE(occurred_at, TO_TIMESTAMP_LTZ(0, 3)),
  -- No "- 1 ms": SQL watermarks are max - D exactly (README "Watermark").
  WATERMARK FOR ts AS ts - INTERVAL '${out_of_orderness_interval}' DAY TO SECOND(3)
) WITH (
  'connector' = 'kafka',
  'topic' = '${input_topic}',
  'properties.bootstrap.servers' = '${brokers}',
  'properties.group.id' = '${group_id}',
  'scan.startup.mode' = '${startup_mode}',
  'scan.bounded.mode' = '${bounded_mode}',
  'scan.watermark.emit.strategy' = 'on-event',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true',
  'json.timestamp-format.standard' = 'ISO-8601'
);

CREATE TEMPORARY TABLE results_sink (
  schema_version INT,
  event_id STRING,
  window_start STRING,
  window_end STRING,
  order_count BIGINT,
  revenue_cents BIGINT,
  items_sold BIGINT,
  distinct_users BIGINT,
  top_products ARRAY<ROW<product_id STRING, units BIGINT>>,
  order_ids ARRAY<STRING>,
  late_events BIGINT,
  closed_at STRING
) WITH (
  'connector' = 'kafka',
  'topic' = '${output_topic}',
  'properties.bootstrap.servers' = '${brokers}',
  'key.format' = 'raw',
  'key.fields' = 'window_start',
  'value.format' = 'json',
  'value.fields-include' = 'ALL'
);

-- Late events with the watermark they were judged against. Flink SQL drops
-- late rows inside the window operator, and attaching them to "the next
-- window to close" needs state across both outputs, which plain SQL does
-- not have; the reader (services/analytics/flink, Go) attributes each to
-- the first emitted window starting at or after the window of
-- watermark + 1 ms, which is exactly that window (README "Late events").
CREATE TEMPORARY TABLE late_sink (
  event_id STRING,
  occurred_at TIMESTAMP_LTZ(3),
  `watermark` TIMESTAMP_LTZ(3)
) WITH (
  'connector' = 'kafka',
  'topic' = '${late_topic}',
  'properties.bootstrap.servers' = '${brokers}',
  'format' = 'json',
  'json.timestamp-format.standard' = 'ISO-8601'
);

-- The same records events.DecodeOrderPlaced accepts.
CREATE TEMPORARY VIEW valid AS
SELECT * FROM orders_src
WHERE `type` = 'OrderPlaced' AND schema_version = 1
  AND event_id <> '' AND order_id <> '' AND occurred_at IS NOT NULL;

-- Dedup by event_id, first arrival wins, before windowing: a copy with
-- another occurred_at or in another window is still a duplicate.
CREATE TEMPORARY VIEW deduped AS
SELECT schema_version, event_id, occurred_at, order_id, user_id, items, total_cents, ts
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY proc ASC) AS rn FROM valid
) WHERE rn = 1;

EXECUTE STATEMENT SET
BEGIN

INSERT INTO results_sink
SELECT
  1,
  CONCAT('window-', DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''), '-',
         DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')),
  DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''),
  DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''),
  COUNT(*),
  SUM(total_cents),
  SUM(item_units(items)),
  COUNT(DISTINCT NULLIF(user_id, '')),
  top_products(items),
  sorted_strings(order_id),
  CAST(0 AS BIGINT),
  DATE_FORMAT(CURRENT_TIMESTAMP, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''')
FROM TABLE(TUMBLE(TABLE deduped, DESCRIPTOR(ts), INTERVAL '${window_interval}' DAY TO SECOND(3)))
GROUP BY window_start, window_end;

INSERT INTO late_sink
SELECT event_id, occurred_at, CURRENT_WATERMARK(ts)
FROM deduped
WHERE window_closed(ts, CURRENT_WATERMARK(ts), CAST(${window_ms} AS BIGINT));

END;
