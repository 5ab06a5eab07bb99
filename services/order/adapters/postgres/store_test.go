package postgres_test

import (
	"testing"

	"github.com/shoplab/shoplab/services/order/adapters/postgres"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/order/ordertest"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
	"github.com/shoplab/shoplab/services/platform/pgxx"
)

// open returns a store on a fresh database, closed at cleanup.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), pgxx.Options{URL: partstest.Postgres(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreContract(t *testing.T) {
	ordertest.Run(t, func(t *testing.T) app.Store { return open(t) })
}

func BenchmarkPlaceOrder(b *testing.B) { ordertest.BenchPlace(b, open(b)) }

func BenchmarkRelayBatch(b *testing.B) { ordertest.BenchRelay(b, open(b), 100) }
