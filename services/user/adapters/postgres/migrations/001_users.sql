-- +goose Up
-- Emails are stored normalized (trimmed, lower-cased) by the app, so this
-- plain UNIQUE index is what makes them unique case-insensitively.
-- created_at is Unix time in microseconds, UTC, as on SQLite.
CREATE TABLE users (
    id            TEXT   PRIMARY KEY,
    email         TEXT   NOT NULL,
    name          TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

-- +goose Down
DROP TABLE users;
