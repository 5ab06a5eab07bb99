package chaos

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

var testMigrations = fstest.MapFS{
	"001_items.sql": {Data: []byte("-- +goose Up\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, added_at TIMESTAMP);\n")},
}

// MustStore opens a migrated SQLite database for unit through the
// engine's driver, as a unit's composition root does.
func MustStore(t *testing.T, e *Engine, unit string) *sql.DB {
	t.Helper()
	db, err := sqlitex.Open(context.Background(), filepath.Join(t.TempDir(), unit+".db"), testMigrations, sqlitex.WithDriver(e.SQLDriver(unit)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func countItems(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSQLDriverWithoutFaultsBehavesLikeSQLite(t *testing.T) {
	e := MustEngine(t)
	name := e.SQLDriver("order")
	if again := e.SQLDriver("order"); again != name {
		t.Fatalf("SQLDriver registered twice: %s, %s", name, again)
	}
	if other := MustEngine(t).SQLDriver("order"); other == name {
		t.Fatal("two engines share a driver name")
	}
	db := MustStore(t, e, "order")
	ctx := context.Background()

	// A transaction with a prepared statement, the shape of the units' batched writes.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO items (name, added_at) VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []string{"a", "b", "c"} {
		if _, err := stmt.ExecContext(ctx, n, now); err != nil {
			t.Fatal(err)
		}
	}
	_ = stmt.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// A rolled-back transaction leaves nothing.
	tx, _ = db.BeginTx(ctx, nil)
	_, _ = tx.ExecContext(ctx, "INSERT INTO items (name) VALUES ('gone')")
	_ = tx.Rollback()
	if n := countItems(t, db); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
	// Named parameters, time values and constraint errors pass through.
	var got time.Time
	if err := db.QueryRowContext(ctx, "SELECT added_at FROM items WHERE name = :n", sql.Named("n", "b")).Scan(&got); err != nil || !got.Equal(now) {
		t.Fatalf("read back %v, %v", got, err)
	}
	_, err = db.ExecContext(ctx, "INSERT INTO items (name) VALUES ('a')")
	if !sqlitex.IsUniqueViolation(err) {
		t.Fatalf("duplicate insert: %v, want a unique violation the units can recognise", err)
	}
	// Read-only transactions keep their options.
	ro, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = ro.Rollback()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStorageErrorFailsOperations(t *testing.T) {
	e := MustEngine(t)
	db := MustStore(t, e, "payment")
	ctx := context.Background()
	id := MustApply(t, e, Fault{Target: "payment", Type: StorageError, Attributes: map[string]any{"ops": "exec"}})

	_, err := db.ExecContext(ctx, "INSERT INTO items (name) VALUES ('x')")
	var inj *InjectedError
	if !errors.As(err, &inj) || inj.Code != 10 || inj.Op != "exec" || inj.Fault != id || !strings.Contains(err.Error(), InjectedMessage) {
		t.Fatalf("exec: %v, want an injected disk I/O error", err)
	}
	if n := countItems(t, db); n != 0 { // queries are not in ops
		t.Fatalf("%d rows after a failed insert", n)
	}
	MustRemove(t, e, id)
	if _, err := db.ExecContext(ctx, "INSERT INTO items (name) VALUES ('x')"); err != nil {
		t.Fatalf("exec after removal: %v", err)
	}

	MustApply(t, e, Fault{Target: "payment", Type: StorageError, Attributes: map[string]any{"error": "busy", "ops": "begin"}})
	_, err = db.BeginTx(ctx, nil)
	if !errors.As(err, &inj) || inj.Code != 5 || inj.Op != "begin" {
		t.Fatalf("begin: %v, want an injected SQLITE_BUSY", err)
	}
}

func TestStorageErrorOnCommitRollsBackAndFreesTheConnection(t *testing.T) {
	e := MustEngine(t)
	db := MustStore(t, e, "order")
	db.SetMaxOpenConns(1) // the next transaction must run on the very same connection
	ctx := context.Background()
	id := MustApply(t, e, Fault{Target: "order", Type: StorageError, Attributes: map[string]any{"ops": "commit"}})
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO items (name) VALUES ('lost')"); err != nil {
		t.Fatal(err)
	}
	var inj *InjectedError
	if err := tx.Commit(); !errors.As(err, &inj) || inj.Op != "commit" {
		t.Fatalf("commit: %v, want an injected error", err)
	}
	MustRemove(t, e, id)
	if n := countItems(t, db); n != 0 {
		t.Fatalf("a failed commit wrote %d rows", n)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("the connection is still inside the failed transaction: %v", err)
	}
	_, _ = tx.ExecContext(ctx, "INSERT INTO items (name) VALUES ('kept')")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, db); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

func TestStorageErrorAfterDoesTheWork(t *testing.T) {
	e := MustEngine(t)
	db := MustStore(t, e, "order")
	ctx := context.Background()
	MustApply(t, e, Fault{Target: "order", Type: StorageError, Attributes: map[string]any{"ops": "commit", "when": "after"}})
	tx, _ := db.BeginTx(ctx, nil)
	_, _ = tx.ExecContext(ctx, "INSERT INTO items (name) VALUES ('written')")
	if err := tx.Commit(); err == nil {
		t.Fatal("commit succeeded, want an error after the write")
	}
	_ = e.Reset(ctx)
	if n := countItems(t, db); n != 1 {
		t.Fatalf("%d rows, want the row committed despite the error", n)
	}
}

func TestStorageBadConnIsRetriedByDatabaseSQL(t *testing.T) {
	e := MustEngine(t, WithSeed(3))
	db := MustStore(t, e, "user")
	ctx := context.Background()
	MustApply(t, e, Fault{Name: "flaky-disk", Target: "user", Type: StorageError, Attributes: map[string]any{"error": "bad_conn", "ops": "exec", "rate": 0.5}})
	// database/sql retries ErrBadConn on other connections: with rate 0.5
	// most inserts get through, and those that fail carry ErrBadConn.
	ok, failed := 0, 0
	for i := range 40 {
		_, err := db.ExecContext(ctx, "INSERT INTO items (name) VALUES (?)", "n"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		switch {
		case err == nil:
			ok++
		case errors.Is(err, driver.ErrBadConn):
			failed++
		default:
			t.Fatalf("insert %d: %v", i, err)
		}
	}
	if n := countItems(t, db); n != ok || ok < failed {
		t.Fatalf("%d rows for %d successes and %d failures", n, ok, failed)
	}
}

func TestStorageErrorRateIsSeeded(t *testing.T) {
	e := MustEngine(t, WithSeed(11))
	db := MustStore(t, e, "product")
	ctx := context.Background()
	MustApply(t, e, Fault{Name: "disk", Target: "product", Type: StorageError, Attributes: map[string]any{"rate": 0.4, "ops": "query"}})
	var b strings.Builder
	for range 50 {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	if want := expectedHits(11, "disk", 0.4, 50); b.String() != want {
		t.Fatalf("failures\n%s\nwant\n%s", b.String(), want)
	}
}

func TestStorageLatencyDelaysMatchingOperations(t *testing.T) {
	e := MustEngine(t)
	db := MustStore(t, e, "notification")
	ctx := context.Background()
	id := MustApply(t, e, Fault{Target: "notification", Type: StorageLatency, Attributes: map[string]any{"latency": "80ms", "jitter": "10ms", "ops": "query"}})
	start := time.Now()
	countItems(t, db)
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Fatalf("query took %s with 80ms ± 10ms storage latency", d)
	}
	start = time.Now()
	if _, err := db.ExecContext(ctx, "INSERT INTO items (name) VALUES ('fast')"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 60*time.Millisecond {
		t.Fatalf("exec took %s; only queries are delayed", d)
	}
	// The wait ends with the caller's context.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := db.QueryContext(cctx, "SELECT 1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query with a 20ms deadline: %v", err)
	}
	MustRemove(t, e, id)
	start = time.Now()
	countItems(t, db)
	if d := time.Since(start); d > 60*time.Millisecond {
		t.Fatalf("query after removal took %s", d)
	}
}

func TestStorageFaultNeedsTheDriver(t *testing.T) {
	e := MustEngine(t)
	_, err := e.Apply(context.Background(), Fault{Target: "order", Type: StorageError})
	if errs.FieldOf(err) != "target" {
		t.Fatalf("storage fault without a hooked store: %v", err)
	}
}
