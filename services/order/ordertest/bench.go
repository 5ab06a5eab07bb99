package ordertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/order/app"
)

// BenchPlace measures what placing one order costs a store: Create the
// PENDING order, then MarkPaid with its outbox row, the two transactions
// of every accepted order. Every adapter runs the same body, so
// `go test -bench PlaceOrder ./services/order/adapters/...` compares them.
func BenchPlace(b *testing.B, s app.Store) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("bench-%d", i)
		o := pending(id, fmt.Sprintf("u-%d", i%64), i)
		if err := s.Create(b.Context(), o); err != nil {
			b.Fatal(err)
		}
		if _, err := s.MarkPaid(b.Context(), id, pricing(), base.Add(time.Duration(i)*time.Second), msg("ev-"+id, id)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
