package ordertest

import (
	"context"
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

// BenchRelay measures what relaying a batch of outbox rows costs a store:
// ClaimOutbox leases up to batch rows, a publisher that acks at once takes
// them, MarkPublished marks them. Each round commits a fresh batch of paid
// orders first, outside the timer.
func BenchRelay(b *testing.B, s app.Store, batch int) {
	relay := app.NewOutboxRelay(s, ackAll{}, nil, app.RelayOptions{Batch: batch, Owner: "bench"})
	b.ReportAllocs()
	i, sent := 0, 0
	for b.Loop() {
		b.StopTimer()
		for range batch {
			id := fmt.Sprintf("relay-%d", i)
			if err := s.Create(b.Context(), pending(id, "u-relay", i)); err != nil {
				b.Fatal(err)
			}
			if _, err := s.MarkPaid(b.Context(), id, pricing(), base.Add(time.Duration(i)*time.Second), msg("ev-"+id, id)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.StartTimer()
		n, err := relay.DrainOnce(b.Context())
		if err != nil || n != batch {
			b.Fatalf("DrainOnce = %d, %v; want %d", n, err, batch)
		}
		sent += n
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "records/s")
}

// ackAll is a Publisher whose broker acks every record at once.
type ackAll struct{}

func (ackAll) Publish(_ context.Context, recs []app.OutboxRecord) ([]int64, error) {
	ids := make([]int64, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids, nil
}
