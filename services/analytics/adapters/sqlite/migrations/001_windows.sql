-- +goose Up
-- windows is the outbox of closed windows and the store behind the ops API.
CREATE TABLE windows (
    window_start_ms INTEGER PRIMARY KEY,
    window_end_ms   INTEGER NOT NULL,
    closed_at_ms    INTEGER NOT NULL,
    result          TEXT    NOT NULL, -- events.WindowResult JSON, as published and archived
    published_at_ms INTEGER,
    archived_at_ms  INTEGER
);
CREATE INDEX windows_pending ON windows (window_start_ms) WHERE published_at_ms IS NULL OR archived_at_ms IS NULL;

-- accounted_events are the event ids the persisted windows account for
-- (counted, or reported late), keyed by the window that accounts for them;
-- a restarted engine treats them as duplicates.
CREATE TABLE accounted_events (
    event_id        TEXT    PRIMARY KEY,
    window_start_ms INTEGER NOT NULL
);
CREATE INDEX accounted_events_window ON accounted_events (window_start_ms);

-- progress holds the engine watermark at the last persisted window.
CREATE TABLE progress (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    watermark_ms INTEGER NOT NULL
);

-- +goose Down
DROP TABLE progress;
DROP TABLE accounted_events;
DROP TABLE windows;
