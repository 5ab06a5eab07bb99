package postgres_test

import (
	"testing"

	"github.com/shoplab/shoplab/services/platform/parts/partstest"
	"github.com/shoplab/shoplab/services/platform/pgxx"
	"github.com/shoplab/shoplab/services/user/adapters/postgres"
	"github.com/shoplab/shoplab/services/user/app"
	"github.com/shoplab/shoplab/services/user/usertest"
)

func TestStoreContract(t *testing.T) {
	usertest.RunStoreContract(t, func(t *testing.T) app.Store {
		s, err := postgres.Open(t.Context(), pgxx.Options{URL: partstest.Postgres(t)})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
