-- +goose Up
CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL);
-- +goose Down
DROP TABLE things;
