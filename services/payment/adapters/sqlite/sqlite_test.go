package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shoplab/shoplab/services/payment/adapters/sqlite"
	"github.com/shoplab/shoplab/services/payment/app"
	"github.com/shoplab/shoplab/services/payment/paymenttest"
)

func TestStoreContract(t *testing.T) {
	paymenttest.RunStoreContract(t, func(t *testing.T) app.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "payment.db"))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
