-- +goose Up
-- Times are Unix nanoseconds (UTC): exact, and they sort as numbers.
CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    user_email      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'PAID', 'FAILED')),
    total_cents     INTEGER NOT NULL DEFAULT 0,
    currency        TEXT NOT NULL DEFAULT '',
    failure_code    TEXT NOT NULL DEFAULT '',
    failure_message TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_by_time ON orders (created_at DESC, id DESC);
CREATE INDEX orders_pending ON orders (created_at) WHERE status = 'PENDING';

CREATE TABLE order_items (
    order_id         TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    product_id       TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    category         TEXT NOT NULL DEFAULT '',
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, line_no),
    UNIQUE (order_id, product_id)
);

-- AUTOINCREMENT: ids never go back, so "in id order" is commit order.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    topic        TEXT NOT NULL,
    msg_key      TEXT NOT NULL,
    payload      BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE order_items;
DROP TABLE orders;
