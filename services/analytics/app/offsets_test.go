package app

import (
	"maps"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
)

func TestOffsetTrackerCommitsOnlyDurableRecords(t *testing.T) {
	w0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	w1 := w0.Add(10 * time.Second)
	counted := func(w time.Time) analytics.Verdict { return analytics.Verdict{Outcome: analytics.Counted, Window: w} }
	late := analytics.Verdict{Outcome: analytics.Late}
	dup := analytics.Verdict{Outcome: analytics.Duplicate}

	tr := newOffsetTracker()
	tr.processed(0, 10, counted(w0))
	tr.processed(0, 11, counted(w1))
	tr.processed(1, 3, dup)
	tr.processed(0, 12, counted(w0))
	tr.processed(1, 4, analytics.Verdict{}) // invalid

	check := func(step string, want map[int32]int64) {
		t.Helper()
		if got := tr.committable(); !maps.Equal(got, want) {
			t.Fatalf("%s: committable %v, want %v", step, got, want)
		}
	}
	check("nothing durable", map[int32]int64{0: 10, 1: 5})
	check("unchanged offsets are not committed again", map[int32]int64{})

	tr.persisted([]analytics.Window{{Start: w0}})
	check("w0 persisted: p0 waits for w1", map[int32]int64{0: 11})

	tr.processed(1, 5, late)
	tr.processed(0, 13, late)
	tr.processed(0, 14, counted(w1.Add(10*time.Second)))
	tr.persisted([]analytics.Window{{Start: w1, LateEvents: 1}}) // reports the first late record only
	check("w1 persisted with one late", map[int32]int64{1: 6, 0: 13})

	tr.persisted([]analytics.Window{{Start: w1.Add(10 * time.Second), LateEvents: 1}})
	check("all durable", map[int32]int64{0: 15})

	tr.forgetCommitted()
	check("a new session gets every offset", map[int32]int64{0: 15, 1: 6})

	// A replay after a rebalance re-reads lower offsets; they are
	// duplicates and never move the committed offset back.
	tr.processed(0, 11, dup)
	check("replayed duplicates", map[int32]int64{})
}
