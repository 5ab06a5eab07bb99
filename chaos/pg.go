package chaos

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// PGTracer returns the pgx tracer that makes unit's storage_latency faults
// act on PostgreSQL: each statement waits out the injected delay before it
// is sent, as the SQLite driver hook does. A tracer cannot fail a
// statement, so storage_error on a PostgreSQL unit is refused (see
// checkPGStorage); a reset_peer or down fault on "unit->postgres" breaks
// its connections instead.
func (e *Engine) PGTracer(unit string) pgx.QueryTracer {
	e.mu.Lock()
	if e.pgUnits == nil {
		e.pgUnits = map[string]bool{}
	}
	e.pgUnits[unit] = true
	e.mu.Unlock()
	return pgTracer{hook: storageHook{e: e, unit: unit}}
}

type pgTracer struct{ hook storageHook }

// TraceQueryStart implements pgx.QueryTracer. The delay honours ctx, so a
// caller's deadline still ends the statement.
func (t pgTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	_, _ = t.hook.run(ctx, pgOp(data.SQL))
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (pgTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// pgOp maps a statement to the operation classes of the ops attribute.
func pgOp(sql string) opSet {
	s := strings.ToLower(strings.TrimSpace(sql))
	switch {
	case strings.HasPrefix(s, "begin"), strings.HasPrefix(s, "start transaction"):
		return opBegin
	case strings.HasPrefix(s, "commit"):
		return opCommit
	case strings.HasPrefix(s, "select"), strings.HasPrefix(s, "with"), strings.Contains(s, " returning "):
		return opQuery
	}
	return opExec
}

// checkPGStorage refuses what the tracer cannot do, with e.mu held.
func checkPGStorage(pl *plan) error {
	if pl.spec.name == StorageError {
		return errs.InvalidField("type", "storage_error cannot act on %s's PostgreSQL store (a pgx tracer can delay a statement, not fail it); use reset_peer or down on %s->postgres", pl.unit, pl.unit)
	}
	return nil
}
