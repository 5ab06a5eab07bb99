package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/shoplab/shoplab/services/order/adapters/sqlite"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/order/ordertest"
)

func TestStoreContract(t *testing.T) {
	ordertest.Run(t, func(t *testing.T) app.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "orders.db"), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func BenchmarkPlaceOrder(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "orders.db"), "")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ordertest.BenchPlace(b, s)
}

func BenchmarkRelayBatch(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "orders.db"), "")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ordertest.BenchRelay(b, s, 100)
}
