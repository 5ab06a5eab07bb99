-- +goose Up
-- The simulated processor's ledger: one row per charge that reached a
-- verdict, like a Stripe charge object. Declines are kept (status 'failed')
-- so a replayed idempotency key returns the same decline. Times are Unix
-- microseconds, UTC.
CREATE TABLE processor_charges (
    id              TEXT    PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    order_id        TEXT    NOT NULL,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    currency        TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('succeeded', 'failed')),
    decline_code    TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    refunded_at     INTEGER
);
CREATE INDEX processor_charges_order ON processor_charges (order_id);

-- +goose Down
DROP TABLE processor_charges;
