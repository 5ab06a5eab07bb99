// Package pgxx opens the PostgreSQL pools the host, compose and aws-* envs
// run the relational stores on (the RDS role), migrates them with goose and
// turns PostgreSQL failures into the errs vocabulary.
//
// Pool and timeout settings (see Options): a pool of MaxConns connections
// (10 unless set), MinConns kept warm (0), every statement bounded on the
// server by statement_timeout (5 s unless set, sent as a runtime parameter
// at connect so it holds for every query on every connection), and every
// connect bounded by ConnectTimeout (5 s unless set). A dial failure fails
// Open at once with the address named: a unit never starts against a
// database it cannot reach, and never waits on one forever.
package pgxx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Defaults of Options.
const (
	DefaultMaxConns         int32 = 10
	DefaultStatementTimeout       = 5 * time.Second
	DefaultConnectTimeout         = 5 * time.Second
)

// Options configures Open. Zero values mean the defaults.
type Options struct {
	URL              string // postgres://user@host:port/db?sslmode=...
	MaxConns         int32  // 0 means DefaultMaxConns
	MinConns         int32
	StatementTimeout time.Duration // 0 means DefaultStatementTimeout
	ConnectTimeout   time.Duration // 0 means DefaultConnectTimeout
	// Tracer sees every query; chaos's storage faults hook here. nil for none.
	Tracer pgx.QueryTracer
	// DialFunc dials the server; wiring routes it through the unit's
	// toxiproxy edge. nil dials directly.
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Config turns o into a pool config without connecting.
func Config(o Options) (*pgxpool.Config, error) {
	if o.URL == "" {
		return nil, errs.InvalidField("database_url", "a PostgreSQL URL is required")
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		// The parse error may echo the URL; it holds no secret in our envs.
		return nil, &errs.Error{Code: errs.Invalid, Field: "database_url", Message: "not a PostgreSQL URL", Err: err}
	}
	cfg.MaxConns = DefaultMaxConns
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.MinConns < 0 || o.MinConns > cfg.MaxConns {
		return nil, errs.InvalidField("db_min_conns", "must be between 0 and the pool size %d", cfg.MaxConns)
	}
	cfg.MinConns = o.MinConns
	st := o.StatementTimeout
	if st <= 0 {
		st = DefaultStatementTimeout
	}
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(st.Milliseconds(), 10)
	// A transaction left idle (a client that stalled mid-transaction) would
	// hold its row locks forever; bound it like a statement.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt((2 * st).Milliseconds(), 10)
	cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	if o.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	if o.Tracer != nil {
		cfg.ConnConfig.Tracer = o.Tracer
	}
	if o.DialFunc != nil {
		cfg.ConnConfig.DialFunc = o.DialFunc
	}
	cfg.HealthCheckPeriod = 15 * time.Second
	return cfg, nil
}

// Open connects a pool, checks that the server answers within the connect
// timeout, and applies the goose migrations in migrations (NNN_name.sql at
// its root; nil for none).
func Open(ctx context.Context, o Options, migrations fs.FS) (*pgxpool.Pool, error) {
	cfg, err := Config(o)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "postgres at %s", addr)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnConfig.ConnectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, errs.Wrap(errs.Unavailable, err, "cannot reach postgres at %s (database %q)", addr, cfg.ConnConfig.Database)
	}
	if migrations != nil {
		if err := Migrate(ctx, pool, migrations); err != nil {
			pool.Close()
			return nil, fmt.Errorf("migrate postgres at %s: %w", addr, err)
		}
	}
	return pool, nil
}

// Migrate applies every pending goose migration in fsys through pool (via
// database/sql, which goose needs; the same pool, so the same dialer). Goose
// takes a session advisory lock, so replicas starting together migrate once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	db := stdlib.OpenDBFromPool(pool)
	defer func() { _ = db.Close() }()
	return migrateDB(ctx, db, fsys)
}

func migrateDB(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// PostgreSQL error codes this package classifies.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeQueryCanceled        = "57014" // statement_timeout, or a cancel request
	codeAdminShutdown        = "57P01"
	codeCannotConnectNow     = "57P03"
	codeTooManyConnections   = "53300"
)

// IsUniqueViolation reports whether err is a unique or primary key violation.
func IsUniqueViolation(err error) bool { return sqlState(err) == codeUniqueViolation }

// IsRetryable reports whether err is a serialization failure or a deadlock:
// the transaction was rolled back and may be run again as is.
func IsRetryable(err error) bool {
	c := sqlState(err)
	return c == codeSerializationFailure || c == codeDeadlockDetected
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Err classifies a PostgreSQL failure of op for callers: a unique
// violation is errs.Conflict with conflict as its message; the caller's
// own deadline or cancellation keeps its meaning; a serialization failure,
// deadlock, statement timeout, server shutdown or any connection failure is
// errs.Unavailable (retry the same request); an error that already carries
// an errs code is returned as is. nil stays nil.
func Err(op string, err error, conflict string) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch sqlState(err) {
	case codeUniqueViolation:
		return errs.Wrap(errs.Conflict, err, "%s", conflict)
	case codeSerializationFailure, codeDeadlockDetected, codeQueryCanceled, codeAdminShutdown, codeCannotConnectNow, codeTooManyConnections:
		return errs.Wrap(errs.Unavailable, fmt.Errorf("%s: %w", op, err), "database busy or unavailable")
	case "":
		// No SQLSTATE: the failure is the connection's (dial, reset, EOF).
		return errs.Wrap(errs.Unavailable, fmt.Errorf("%s: %w", op, err), "database unavailable")
	}
	return fmt.Errorf("%s: %w", op, err)
}

// MaxAttempts is how often InTx runs a transaction that keeps hitting
// serialization failures or deadlocks before giving up with errs.Unavailable.
const MaxAttempts = 3

// InTx runs fn in a transaction of pool with opts and commits it, rolling
// back when fn fails. A serialization failure or deadlock retries the whole
// transaction (fn must be safe to run again) up to MaxAttempts times.
func InTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		err = pgx.BeginTxFunc(ctx, pool, opts, fn)
		if !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return errs.Wrap(errs.Unavailable, err, "transaction kept conflicting after %d attempts", MaxAttempts)
}
