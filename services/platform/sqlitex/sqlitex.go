// Package sqlitex opens the embedded SQLite databases the local env runs on
// (modernc.org/sqlite, pure Go) and migrates them with goose.
package sqlitex

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
)

// DriverName is the database/sql name of the plain SQLite driver.
const DriverName = "sqlite"

// MaxConns bounds each database's pool, open and idle alike.
const MaxConns = 16

type options struct {
	driver string
}

// Option configures Open.
type Option func(*options)

// WithDriver opens through another registered database/sql driver that
// wraps SQLite, such as the chaos wiring's fault-injecting driver.
func WithDriver(name string) Option { return func(o *options) { o.driver = name } }

// Open opens (creating if needed) the database at path with WAL, a busy
// timeout, foreign keys and immediate write transactions (so concurrent
// writers queue instead of failing on lock upgrades), then applies the goose
// migrations in migrations (a directory of NNN_name.sql files at its root).
func Open(ctx context.Context, path string, migrations fs.FS, opts ...Option) (*sql.DB, error) {
	o := options{driver: DriverName}
	for _, opt := range opts {
		opt(&o)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	var db *sql.DB
	if o.driver == DriverName {
		conn, err := NewConnector(dsn)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		db = sql.OpenDB(conn)
	} else {
		var err error
		if db, err = sql.Open(o.driver, dsn); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	// Keep the connections open. database/sql keeps 2 idle by default, so
	// under concurrent requests it opened and closed a connection (a file
	// open, shared-memory map and four PRAGMAs) for most statements: 12%
	// of the CPU of an order under load. WAL lets the readers run in
	// parallel; writers still take turns through the immediate lock.
	db.SetMaxOpenConns(MaxConns)
	db.SetMaxIdleConns(MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if migrations != nil {
		if err := Migrate(ctx, db, migrations); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("migrate %s: %w", path, err)
		}
	}
	return db, nil
}

// Migrate applies every pending goose migration in fsys to db.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint failure.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		// SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
		return se.Code() == 2067 || se.Code() == 1555
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
