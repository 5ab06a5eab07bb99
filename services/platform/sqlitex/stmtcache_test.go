package sqlitex

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func TestStatementCacheReusesAndStaysCorrect(t *testing.T) {
	ctx := context.Background()
	pool, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// One connection, so every call below meets the same cache (a nested
	// query on the pool would wait for a second connection instead).
	db, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, fmt.Sprintf("k%02d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	// A query inside a loop over the same query's rows: the cached
	// statement is busy, so the inner one must run on its own.
	rows, err := db.QueryContext(ctx, `SELECT k, v FROM kv WHERE v < ? ORDER BY k`, 5)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var k string
		var v int
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		var inner int
		if err := db.QueryRowContext(ctx, `SELECT k, v FROM kv WHERE v < ? ORDER BY k`, 100).Scan(&k, &inner); err != nil {
			t.Fatalf("inner query while the outer rows are open: %v", err)
		}
		n++
	}
	if err := rows.Close(); err != nil || n != 5 {
		t.Fatalf("outer rows: %d, %v", n, err)
	}
	// Transactions run through the cache too, and roll back.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE kv SET v = v + 1000 WHERE k = ?`, "k00"); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback()
	var v int
	if err := db.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ?`, "k00").Scan(&v); err != nil || v != 0 {
		t.Fatalf("after rollback v = %d, %v", v, err)
	}
	// A constraint error leaves the cached statement usable.
	if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, "k01", 1); !IsUniqueViolation(err) {
		t.Fatalf("duplicate insert: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, "new", 1); err != nil {
		t.Fatalf("insert after a failed one: %v", err)
	}
	// Many distinct texts: the cache stops growing at its bound.
	for i := range maxCached + 20 {
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&v); err != nil || v != i {
			t.Fatalf("SELECT %d = %d, %v", i, v, err)
		}
	}
	_ = db.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			t.Fatalf("the pool's connection is a %T, not the caching one", dc)
		}
		if len(c.stmts) != maxCached {
			t.Errorf("cache holds %d statements, want the bound %d", len(c.stmts), maxCached)
		}
		if _, ok := c.stmts[`INSERT INTO kv (k, v) VALUES (?, ?)`]; !ok {
			t.Error("the insert run 52 times is not cached")
		}
		return nil
	})
}

// BenchmarkPointQuery compares one indexed read through the cache with the
// same read on modernc's driver alone.
func BenchmarkPointQuery(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "b.db")
	cached, err := Open(ctx, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cached.Close()
	if _, err := cached.ExecContext(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL); INSERT INTO kv VALUES ('a', 1)`); err != nil {
		b.Fatal(err)
	}
	plain, err := sql.Open(DriverName, "file:"+path)
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	for name, db := range map[string]*sql.DB{"cached": cached, "plain": plain} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var v int
			for b.Loop() {
				if err := db.QueryRowContext(ctx, `SELECT v FROM kv WHERE k = ? AND v >= 0 ORDER BY k`, "a").Scan(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
