-- +goose Up
-- The catalog and its stock ledger. available can never go negative nor
-- exceed initial: the CHECK is the last line of defence behind the
-- conditional UPDATE in Reserve.
CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency    TEXT NOT NULL,
    initial     INTEGER NOT NULL CHECK (initial >= 0),
    available   INTEGER NOT NULL CHECK (available >= 0 AND available <= initial),
    -- lower-cased name and description (product.SearchText), matched by search
    search_text TEXT NOT NULL
) WITHOUT ROWID;

-- Category pages walk this index in id order.
CREATE INDEX products_category_id ON products (category, id);

-- One row per order that ever reserved or released. state 'released' with
-- no lines is the tombstone of a release that came before any reservation.
CREATE TABLE reservations (
    order_id    TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('active', 'released')),
    created_at  TEXT NOT NULL,
    released_at TEXT
) WITHOUT ROWID;

-- The lines as sold: name, category and price are copied at reservation time.
CREATE TABLE reservation_lines (
    order_id         TEXT NOT NULL REFERENCES reservations (order_id),
    line_no          INTEGER NOT NULL,
    product_id       TEXT NOT NULL REFERENCES products (id),
    name             TEXT NOT NULL,
    category         TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

CREATE INDEX reservation_lines_product ON reservation_lines (product_id);

-- +goose Down
DROP TABLE reservation_lines;
DROP TABLE reservations;
DROP TABLE products;
