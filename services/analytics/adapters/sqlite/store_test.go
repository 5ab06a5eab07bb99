package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shoplab/shoplab/services/analytics/adapters/sqlite"
	"github.com/shoplab/shoplab/services/analytics/analyticstest"
)

func TestStoreContract(t *testing.T) {
	analyticstest.TestStore(t, func(t *testing.T) analyticstest.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "analytics.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
