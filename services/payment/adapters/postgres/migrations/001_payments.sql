-- +goose Up
-- One payment per order: the UNIQUE order_id is the idempotency record that
-- keeps an order from being charged twice across processes and replicas. A
-- VOIDED tombstone written before any charge has amount 0 and no currency.
-- Times are Unix microseconds, UTC, as on SQLite.
CREATE TABLE payments (
    id            TEXT   PRIMARY KEY,
    order_id      TEXT   NOT NULL UNIQUE,
    user_id       TEXT   NOT NULL DEFAULT '',
    amount_cents  BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency      TEXT   NOT NULL DEFAULT '',
    status        TEXT   NOT NULL CHECK (status IN ('PROCESSING', 'CAPTURED', 'DECLINED', 'REFUNDED', 'VOIDED')),
    decline_code  TEXT   NOT NULL DEFAULT '',
    charge_id     TEXT   NOT NULL DEFAULT '',
    refund_reason TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- +goose Down
DROP TABLE payments;
