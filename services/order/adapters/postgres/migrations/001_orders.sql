-- +goose Up
-- Times are Unix nanoseconds (UTC) in BIGINT, as on SQLite: exact (timestamptz
-- keeps microseconds only) and they sort as numbers.
CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    user_email      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'PAID', 'FAILED')),
    total_cents     BIGINT NOT NULL DEFAULT 0,
    currency        TEXT NOT NULL DEFAULT '',
    failure_code    TEXT NOT NULL DEFAULT '',
    failure_message TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- The recovery lease: the order is recovery_owner's until recovery_until.
    recovery_owner  TEXT NOT NULL DEFAULT '',
    recovery_until  BIGINT NOT NULL DEFAULT 0,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_by_time ON orders (created_at DESC, id DESC);
CREATE INDEX orders_pending ON orders (created_at, id) WHERE status = 'PENDING';

CREATE TABLE order_items (
    order_id         TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    product_id       TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    category         TEXT NOT NULL DEFAULT '',
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, line_no),
    UNIQUE (order_id, product_id)
);

-- Identity ids grow in insert order but, unlike SQLite's single writer,
-- not in commit order: a lower id may commit after a higher one. The relay
-- claims by "unpublished", not by a high-water mark, so none is skipped.
CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    topic        TEXT NOT NULL,
    msg_key      TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    published_at BIGINT,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE order_items;
DROP TABLE orders;
