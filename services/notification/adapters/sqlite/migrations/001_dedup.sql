-- +goose Up
-- One row per OrderPlaced event whose confirmation was claimed or sent.
-- lease_until is unix milliseconds; a 'claimed' row whose lease ended may be
-- taken over by another sender.
CREATE TABLE sent_events (
    event_id    TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('claimed', 'sent')),
    token       TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    claimed_at  INTEGER NOT NULL,
    sent_at     INTEGER
);
CREATE INDEX sent_events_order ON sent_events (order_id);
-- +goose Down
DROP TABLE sent_events;
