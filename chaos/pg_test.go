package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

func TestPGOp(t *testing.T) {
	for sql, want := range map[string]opSet{
		"begin": opBegin, " BEGIN ISOLATION LEVEL SERIALIZABLE": opBegin, "commit": opCommit,
		"select 1": opQuery, "WITH x AS (select 1) select * from x": opQuery,
		"insert into t values (1) returning id": opQuery, "update t set a = 1": opExec,
	} {
		if got := pgOp(sql); got != want {
			t.Errorf("pgOp(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestPGTracerDelaysStatementsAndRefusesErrors(t *testing.T) {
	dsn := partstest.Postgres(t)
	e := MustEngine(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tracer = e.PGTracer("order")
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	timed := func() time.Duration {
		start := time.Now()
		var one int
		if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("select 1: %v %d", err, one)
		}
		return time.Since(start)
	}
	if d := timed(); d > 150*time.Millisecond {
		t.Fatalf("without a fault select 1 took %s", d)
	}
	id := MustApply(t, e, Fault{Target: "order", Type: StorageLatency, Attributes: map[string]any{"latency": "200ms", "ops": "query"}})
	if d := timed(); d < 200*time.Millisecond {
		t.Errorf("with 200ms storage latency select 1 took %s", d)
	}
	if _, err := conn.Exec(ctx, "create temp table x (a int)"); err != nil {
		t.Fatal(err)
	}
	MustRemove(t, e, id)
	if d := timed(); d > 150*time.Millisecond {
		t.Errorf("after removal select 1 took %s", d)
	}
	_, err = e.Apply(ctx, Fault{Target: "order", Type: StorageError})
	if errs.FieldOf(err) != "type" {
		t.Fatalf("storage_error on PostgreSQL: %v, want refused at field type", err)
	}
	t.Log(err)
}
