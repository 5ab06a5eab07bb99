package analytics_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/api/events"
)

// BenchmarkWindowEngineAdd is the Go window engine's cost per event: in
// event-time order, one partition, the watermark advanced every 1,000
// events, as a busy orders topic drives it.
func BenchmarkWindowEngineAdd(b *testing.B) {
	e, err := analytics.NewWindowEngine(analytics.WithWindow(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	ev := events.OrderPlaced{SchemaVersion: events.SchemaVersion, Type: events.TypeOrderPlaced, Currency: "USD", TotalCents: 1000,
		Items: []events.LineItem{{ProductID: "p-0001", Quantity: 1, UnitPriceCents: 1000, Category: "books"}}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev.EventID = strconv.Itoa(i)
		ev.OrderID, ev.UserID = ev.EventID, "u-"+strconv.Itoa(i%97)
		ev.OccurredAt = t0.Add(time.Duration(i) * time.Millisecond)
		e.Add(ev.OccurredAt, 0, ev)
		if i%1000 == 0 {
			e.Advance(ev.OccurredAt)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
