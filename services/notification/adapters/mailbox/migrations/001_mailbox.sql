-- +goose Up
-- The local env's email provider: every email "sent", for the ops API and
-- the scenario invariants. event_id is UNIQUE so a resend is a no-op.
CREATE TABLE mailbox (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    sender   TEXT NOT NULL,
    "to"     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    body     TEXT NOT NULL,
    order_id TEXT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    sent_at  INTEGER NOT NULL
);
CREATE INDEX mailbox_order ON mailbox (order_id);
-- +goose Down
DROP TABLE mailbox;
