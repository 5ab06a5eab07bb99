package sqlitex_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

func TestOpenMigratesAndSerialisesWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := sqlitex.Open(ctx, path, os.DirFS("testdata/migrations"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `INSERT INTO things VALUES ('a', 0)`); err != nil {
		t.Fatal(err)
	}
	// Many concurrent read-modify-write transactions must all commit.
	var wg sync.WaitGroup
	errc := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				errc <- err
				return
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT n FROM things WHERE id='a'`).Scan(&n); err != nil {
				_ = tx.Rollback()
				errc <- err
				return
			}
			if _, err := tx.ExecContext(ctx, `UPDATE things SET n=? WHERE id='a'`, n+1); err != nil {
				_ = tx.Rollback()
				errc <- err
				return
			}
			errc <- tx.Commit()
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT n FROM things WHERE id='a'`).Scan(&n); err != nil || n != 50 {
		t.Fatalf("n = %d, %v; want 50", n, err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO things VALUES ('a', 1)`)
	if !sqlitex.IsUniqueViolation(err) {
		t.Fatalf("duplicate insert: %v, want unique violation", err)
	}
	// Reopening applies no migration twice.
	db2, err := sqlitex.Open(ctx, path, os.DirFS("testdata/migrations"))
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
}
