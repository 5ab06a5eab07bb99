-- +goose Up
-- Leases let several relays or recovery loops share one database: a row is
-- the owner's until lease_until (Unix nanoseconds); 0 means never leased.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN recovery_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN recovery_until INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE orders DROP COLUMN recovery_until;
ALTER TABLE orders DROP COLUMN recovery_owner;
ALTER TABLE outbox DROP COLUMN lease_until;
ALTER TABLE outbox DROP COLUMN lease_owner;
