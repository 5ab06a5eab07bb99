package chaos

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

// InjectedError is the error a storage_error fault returns, shaped after
// the SQLite error it stands for.
type InjectedError struct {
	Fault string // id of the fault that injected it
	Op    string // exec, query, begin or commit
	Code  int    // the SQLite result code it imitates: 5 (SQLITE_BUSY) or 10 (SQLITE_IOERR)
	Msg   string
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("%s (%d) on %s: %s", e.Msg, e.Code, e.Op, InjectedMessage)
}

// SQLDriver returns the name of a database/sql driver that opens SQLite
// (modernc, as sqlitex's plain driver does) and injects unit's storage
// faults. It registers the driver on first use; the name is unique to this
// engine and unit, because database/sql names are process-global.
func (e *Engine) SQLDriver(unit string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if name, ok := e.drivers[unit]; ok {
		return name
	}
	name := fmt.Sprintf("sqlite-chaos-%d-%s", e.driverID, unit)
	// Registering a name twice panics; no other code should use this
	// prefix, but a clash must not take the process down.
	for n := 2; slices.Contains(sql.Drivers(), name); n++ {
		name = fmt.Sprintf("sqlite-chaos-%d-%s-%d", e.driverID, unit, n)
	}
	sql.Register(name, &chaosDriver{hook: storageHook{e: e, unit: unit}})
	e.drivers[unit] = name
	return name
}

// storageHook decides, per SQL operation, what a unit's storage faults do.
type storageHook struct {
	e    *Engine
	unit string
}

var opNames = map[opSet]string{opExec: "exec", opQuery: "query", opBegin: "begin", opCommit: "commit"}

// run applies the faults for one operation: it waits out any injected
// latency and returns the error to give instead of doing the work
// (before) and the error to give once the work is done (after).
func (h storageHook) run(ctx context.Context, op opSet) (before, after error) {
	rules := h.e.rules.Load().storage[h.unit]
	if len(rules) == 0 {
		return nil, nil
	}
	var delay time.Duration
	for _, r := range rules {
		// One draw per matching rule and operation, whatever the others do.
		if r.ops&op == 0 || !r.dec.hit(r.rate) {
			continue
		}
		if r.errKind == "" {
			delay += r.latency + r.dec.jitter(r.jitter)
			continue
		}
		err := injectedStorageError(r, op)
		if r.after {
			if after == nil {
				after = err
			}
		} else if before == nil {
			before = err
		}
	}
	if delay > 0 {
		if err := sleepCtx(ctx, delay); err != nil {
			return err, nil
		}
	}
	return before, after
}

func injectedStorageError(r *storageRule, op opSet) error {
	switch r.errKind {
	case "bad_conn":
		// database/sql recognises it with errors.Is and retries on a
		// fresh connection, as it would after a real broken connection.
		return fmt.Errorf("%s on %s: %w", InjectedMessage, opNames[op], driver.ErrBadConn)
	case "busy":
		return &InjectedError{Fault: r.id, Op: opNames[op], Code: 5, Msg: "database is locked (SQLITE_BUSY)"}
	}
	return &InjectedError{Fault: r.id, Op: opNames[op], Code: 10, Msg: "disk I/O error (SQLITE_IOERR)"}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chaosDriver opens connections through sqlitex's connector, the one its
// plain "sqlite" name uses (modernc's driver with a statement cache), so a
// unit under chaos runs the same SQL path as without.
type chaosDriver struct{ hook storageHook }

// Open implements driver.Driver for callers that bypass OpenConnector.
func (d *chaosDriver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	// driver.Driver.Open has no context; database/sql itself uses
	// Background when it adapts a plain driver.
	return c.Connect(context.Background())
}

// OpenConnector implements driver.DriverContext.
func (d *chaosDriver) OpenConnector(dsn string) (driver.Connector, error) {
	base, err := sqlitex.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &chaosConnector{base: base, d: d}, nil
}

type chaosConnector struct {
	base driver.Connector
	d    *chaosDriver
}

func (c *chaosConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &chaosConn{Conn: conn, hook: c.d.hook}, nil
}

func (c *chaosConnector) Driver() driver.Driver { return c.d }

// chaosConn wraps a connection and forwards every optional interface, so
// database/sql keeps the context-aware paths, session resets and
// validation it has with the plain driver; where the wrapped connection
// lacks one, the method answers as database/sql's fallback would.
type chaosConn struct {
	driver.Conn
	hook storageHook
}

var (
	_ driver.ConnBeginTx        = (*chaosConn)(nil)
	_ driver.ConnPrepareContext = (*chaosConn)(nil)
	_ driver.ExecerContext      = (*chaosConn)(nil)
	_ driver.QueryerContext     = (*chaosConn)(nil)
	_ driver.Pinger             = (*chaosConn)(nil)
	_ driver.SessionResetter    = (*chaosConn)(nil)
	_ driver.Validator          = (*chaosConn)(nil)
	_ driver.NamedValueChecker  = (*chaosConn)(nil)
)

// Unwrap returns the SQLite connection, for helpers such as sqlite.Limit
// that look through wrappers.
func (c *chaosConn) Unwrap() driver.Conn { return c.Conn }

func (c *chaosConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *chaosConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		s, err = pc.PrepareContext(ctx, query)
	} else {
		s, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &chaosStmt{Stmt: s, hook: c.hook}, nil
}

func (c *chaosConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *chaosConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	before, after := c.hook.run(ctx, opBegin)
	if before != nil {
		return nil, before
	}
	var tx driver.Tx
	var err error
	if bt, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = bt.BeginTx(ctx, opts)
	} else {
		if opts.Isolation != 0 || opts.ReadOnly {
			return nil, errors.New("chaos: the wrapped driver supports no transaction options")
		}
		tx, err = c.Conn.Begin() //nolint:staticcheck // the fallback database/sql would use
	}
	if err != nil {
		return nil, err
	}
	if after != nil {
		// The caller never sees this transaction: end it, or the
		// connection would go back to the pool inside it.
		_ = tx.Rollback()
		return nil, after
	}
	return &chaosTx{Tx: tx, hook: c.hook}, nil
}

func (c *chaosConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ex, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares instead; the statement's hook applies
	}
	before, after := c.hook.run(ctx, opExec)
	if before != nil {
		return nil, before
	}
	res, err := ex.ExecContext(ctx, query, args)
	if err == nil && after != nil {
		return nil, after
	}
	return res, err
}

func (c *chaosConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	before, after := c.hook.run(ctx, opQuery)
	if before != nil {
		return nil, before
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err == nil && after != nil {
		_ = rows.Close()
		return nil, after
	}
	return rows, err
}

func (c *chaosConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *chaosConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *chaosConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *chaosConn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.Conn.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip // database/sql's default conversion
}

// chaosTx fails or delays commits. A commit that is to fail rolls back
// first: the connection goes back to the pool clean, and nothing the
// caller believes lost is written.
type chaosTx struct {
	driver.Tx
	hook storageHook
}

func (t *chaosTx) Commit() error {
	// driver.Tx has no context; the latency of a commit is not cancellable.
	before, after := t.hook.run(context.Background(), opCommit)
	if before != nil {
		_ = t.Tx.Rollback()
		return before
	}
	if err := t.Tx.Commit(); err != nil {
		return err
	}
	return after
}

// chaosStmt applies the hook to prepared statements, which units use for
// batched writes.
type chaosStmt struct {
	driver.Stmt
	hook storageHook
}

var (
	_ driver.StmtExecContext   = (*chaosStmt)(nil)
	_ driver.StmtQueryContext  = (*chaosStmt)(nil)
	_ driver.NamedValueChecker = (*chaosStmt)(nil)
)

func (s *chaosStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	before, after := s.hook.run(ctx, opExec)
	if before != nil {
		return nil, before
	}
	var res driver.Result
	var err error
	if ex, ok := s.Stmt.(driver.StmtExecContext); ok {
		res, err = ex.ExecContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = plainValues(args); err == nil {
			res, err = s.Stmt.Exec(vals) //nolint:staticcheck // fallback for drivers without contexts
		}
	}
	if err == nil && after != nil {
		return nil, after
	}
	return res, err
}

func (s *chaosStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	before, after := s.hook.run(ctx, opQuery)
	if before != nil {
		return nil, before
	}
	var rows driver.Rows
	var err error
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		rows, err = q.QueryContext(ctx, args)
	} else {
		var vals []driver.Value
		if vals, err = plainValues(args); err == nil {
			rows, err = s.Stmt.Query(vals) //nolint:staticcheck // fallback for drivers without contexts
		}
	}
	if err == nil && after != nil {
		_ = rows.Close()
		return nil, after
	}
	return rows, err
}

func (s *chaosStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func plainValues(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("chaos: the wrapped driver does not support named parameters")
		}
		out[i] = a.Value
	}
	return out, nil
}
