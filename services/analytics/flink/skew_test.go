package flink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/analytics/flink"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

const skewPartitions = 3

// skewedStream is a seeded stream over skewPartitions partitions, each in
// event-time order (jitter under D, so nothing is late within its own
// partition by accident), partition p running (2-p) windows ahead of
// partition 2: partition 2 is 2 windows behind partition 0. It has exact
// copies within a partition, copies of a more-behind partition's events on a
// more-ahead one (older than the receiving partition's maximum, so they
// move no watermark), and late events on every partition: event times
// whose window's end - 1 ms is at or below the partition's own watermark
// at that point, at a point where that watermark is still at or below every
// partition's final watermark.
//
// Those rules make the outcome depend only on which partition Flink reads
// last (README "Several partitions"): its bounded read takes each
// partition's records in one fetch, the partitions one after the other in
// a run-dependent order; a split assigned but not yet read holds the
// watermark at its minimum, so nothing closes and nothing is late until
// the last partition is read, and a finished split stops holding it, which
// the "at or below every final watermark" rule makes irrelevant. The Go
// engine, with every partition tracked up front (Flink's eager split
// outputs) and the partitions replayed one after the other, gives the same.
func skewedStream(seed uint64, perPartition int) [skewPartitions][]events.OrderPlaced {
	r := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	var out [skewPartitions][]events.OrderPlaced
	var clocks [skewPartitions]time.Duration
	var maxAt [skewPartitions][]time.Duration // maxAt[p][i]: max event time of out[p][:i]
	// Behind partitions first, so that the copies on the ahead ones have
	// originals to copy.
	for p := skewPartitions - 1; p >= 0; p-- {
		clock := time.Duration(skewPartitions-1-p) * fixtureWindow
		max := time.Duration(-1 << 62)
		for i := 0; len(out[p]) < perPartition; i++ {
			maxAt[p] = append(maxAt[p], max)
			switch k := r.IntN(12); {
			case k == 0 && len(out[p]) > 0:
				out[p] = append(out[p], out[p][max0(len(out[p])-30)+r.IntN(min(len(out[p]), 30))])
				continue
			case k == 1 && p < skewPartitions-1:
				q := p + 1 + r.IntN(skewPartitions-1-p)
				var older []events.OrderPlaced
				for _, e := range out[q] {
					if e.OccurredAt.Sub(t0) < max {
						older = append(older, e)
					}
				}
				if len(older) > 0 {
					out[p] = append(out[p], older[r.IntN(len(older))])
					continue
				}
			}
			clock += time.Duration(r.IntN(1500)) * time.Millisecond
			at := clock
			if r.IntN(5) == 0 {
				at -= time.Duration(r.IntN(int(fixtureDelay/time.Millisecond))) * time.Millisecond
			}
			if at > max {
				max = at
			}
			var items []events.LineItem
			for k := r.IntN(4); k > 0; k-- {
				items = append(items, item(fmt.Sprintf("p%d", r.IntN(6)), int32(r.IntN(4))))
			}
			user := fmt.Sprintf("u%d", r.IntN(8))
			if r.IntN(10) == 0 {
				user = ""
			}
			out[p] = append(out[p], ev(fmt.Sprintf("s%d-p%d-%d", seed, p, i), at, user, items...))
		}
		clocks[p] = max
	}
	minFinal := clocks[0]
	for _, c := range clocks {
		minFinal = min(minFinal, c-fixtureDelay)
	}
	// Two late events per partition, inserted at positions from the back so
	// that maxAt stays valid for the earlier ones.
	for p := range out {
		var at []int
		for i, m := range maxAt[p] {
			if wm := m - fixtureDelay; wm >= fixtureWindow && wm <= minFinal {
				at = append(at, i)
			}
		}
		if len(at) < 2 {
			continue
		}
		i1, i2 := at[len(at)/3+r.IntN(len(at)/3)], at[len(at)-1-r.IntN(len(at)/3)]
		for n, i := range []int{i2, i1} {
			wm := (maxAt[p][i] - fixtureDelay).Milliseconds()
			w := fixtureWindow.Milliseconds()
			// The window ending at or before wm + 1 ms, or one before it.
			start := ((wm+1)/w - 1 - int64(r.IntN(2))) * w
			ts := time.Duration(start+int64(r.IntN(int(w)))) * time.Millisecond
			late := ev(fmt.Sprintf("s%d-p%d-late%d", seed, p, n), ts, "u-late", item("p-late", 1))
			out[p] = append(out[p][:i], append([]events.OrderPlaced{late}, out[p][i:]...)...)
		}
	}
	return out
}

func max0(n int) int { return max(n, 0) }

// replayInOrder runs the partitions through the Go engine as a bounded
// Flink read of them one after the other does: every partition tracked
// (assigned) first, then order[0]'s records, order[1]'s, ...
func replayInOrder(t *testing.T, parts [skewPartitions][]events.OrderPlaced, order []int32) []events.WindowResult {
	t.Helper()
	now := time.Now()
	e, err := analytics.NewWindowEngine(analytics.WithWindow(fixtureWindow), analytics.WithOutOfOrderness(fixtureDelay), analytics.WithIdleTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	for p := range parts {
		e.Track(now, int32(p))
	}
	out := []events.WindowResult{}
	for _, p := range order {
		for _, ev := range roundTrip(t, parts[p]) {
			e.Add(now, p, ev)
			for _, w := range e.Advance(now) {
				out = append(out, w.Result())
			}
		}
	}
	for _, w := range e.Flush(now) {
		out = append(out, w.Result())
	}
	return out
}

// roundTrip encodes and decodes evs as the topic carries them.
func roundTrip(t *testing.T, evs []events.OrderPlaced) []events.OrderPlaced {
	t.Helper()
	values := make([][]byte, len(evs))
	for i, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		values[i] = b
	}
	return decodeAll(t, values)
}

// TestSkewedPartitionsAgree replays a skewed three-partition stream
// (partition 2 two windows behind partition 0, duplicates within and
// across partitions, late events on each) through the Flink job, each
// record produced to its partition, and through the Go engine with
// per-partition watermarks. Flink's windows must equal, window by window,
// the Go engine's for the read order Flink took (which partition it read
// last: the only thing the stream lets the outcome depend on, see
// skewedStream); the three possible outcomes differ, so the match is not
// vacuous. SHOPLAB_FLINK_ONE_PARTITION=1 makes the Flink side replay the
// records in arrival order (the partitions' records interleaved as they
// would arrive) on a one-partition topic: a single watermark over skewed
// partitions, which must fail.
func TestSkewedPartitionsAgree(t *testing.T) {
	s, brokers := server(t)
	parts := skewedStream(7, 70)

	var (
		cands [skewPartitions][]events.WindowResult
		seen  = map[string]int{}
	)
	for last := range cands {
		var order []int32
		for p := range int32(skewPartitions) {
			if p != int32(last) {
				order = append(order, p)
			}
		}
		cands[last] = replayInOrder(t, parts, append(order, int32(last)))
		var late int64
		for _, w := range cands[last] {
			late += w.LateEvents
		}
		if late == 0 || len(cands[last]) < 5 {
			t.Fatalf("partition %d read last: %d windows, %d late events: the stream does not exercise lateness", last, len(cands[last]), late)
		}
		key, _ := json.Marshal(normalAll(cands[last]))
		if prev, ok := seen[string(key)]; ok {
			t.Fatalf("partition %d or %d read last give the same windows: the match would not show which order Flink took", prev, last)
		}
		seen[string(key)] = last
	}
	// Go also agrees with itself on the read order within the first two.
	if d := Diff(cands[2], replayInOrder(t, parts, []int32{1, 0, 2})); d != "" {
		t.Fatalf("the Go engine depends on the order of the partitions read before the last:\n%s", d)
	}

	// Arrival order: the partitions' records interleaved evenly (what one
	// consumer of the live topic would see).
	var values [][]byte
	var keys []string
	var to []int32
	var next [skewPartitions]int
	for left := true; left; {
		left = false
		for p := range parts {
			if next[p] < len(parts[p]) {
				e := parts[p][next[p]]
				next[p]++
				b, _ := json.Marshal(e)
				values, keys, to = append(values, b), append(keys, e.OrderID), append(to, int32(p))
				left = true
			}
		}
	}
	rc := flink.ReplayConfig{Brokers: brokers, Window: fixtureWindow, OutOfOrderness: fixtureDelay, Prefix: partstest.UniqueName("flinkskew-"),
		Partitions: skewPartitions, PartitionOf: to}
	if os.Getenv("SHOPLAB_FLINK_ONE_PARTITION") == "1" {
		// The breakage proof: the Flink side reads one partition.
		rc.Partitions, rc.PartitionOf = 1, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	got, pending, err := s.Replay(ctx, rc, keys, values)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Flink replay of %d records over %d partitions: %s, %d windows, %d late events pending", len(values), rc.Partitions, time.Since(start).Round(time.Millisecond), len(got), len(pending))
	var diffs []string
	for last, want := range cands {
		d := Diff(want, got)
		if d == "" {
			t.Logf("Flink read partition %d last; its %d windows equal the Go engine's for that order", last, len(got))
			return
		}
		diffs = append(diffs, fmt.Sprintf("partition %d read last (Go = want, Flink = got):\n%s", last, d))
	}
	t.Errorf("the Flink job's windows match the Go engine's for no read order of the partitions:\n%s", strings.Join(diffs, "\n"))
}

func normalAll(ws []events.WindowResult) []events.WindowResult {
	out := make([]events.WindowResult, len(ws))
	for i, w := range ws {
		out[i] = normal(w)
	}
	return out
}
