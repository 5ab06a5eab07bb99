package app

import (
	"maps"

	"github.com/shoplab/shoplab/services/analytics"
)

// offsetTracker decides how far each partition may be committed: only past
// records whose effect is durable. A counted record is durable once its
// window is persisted, a late one once the window that reports it is
// persisted; a duplicate or invalid record has no effect. So a restart
// replays exactly the records of windows still open, and of late events
// still unreported.
type offsetTracker struct {
	// windows: window start (ms) -> partition -> lowest offset counted in it.
	windows map[int64]map[int32]int64
	// late holds late records in arrival order; the engine reports them
	// in that order, window by window.
	late []partitionOffset
	// next: partition -> highest offset processed + 1.
	next map[int32]int64
	// committed: what was last handed to the committer.
	committed map[int32]int64
}

type partitionOffset struct {
	partition int32
	offset    int64
}

func newOffsetTracker() *offsetTracker {
	return &offsetTracker{windows: map[int64]map[int32]int64{}, next: map[int32]int64{}, committed: map[int32]int64{}}
}

// processed records the outcome of the record at offset of partition
// (outcome 0 for an invalid record).
func (t *offsetTracker) processed(partition int32, offset int64, v analytics.Verdict) {
	t.next[partition] = max(t.next[partition], offset+1)
	switch v.Outcome {
	case analytics.Counted:
		start := v.Window.UnixMilli()
		byPart, ok := t.windows[start]
		if !ok {
			byPart = map[int32]int64{}
			t.windows[start] = byPart
		}
		if cur, ok := byPart[partition]; !ok || offset < cur {
			byPart[partition] = offset
		}
	case analytics.Late:
		t.late = append(t.late, partitionOffset{partition, offset})
	}
}

// persisted releases the records of windows now durable, in close order.
func (t *offsetTracker) persisted(ws []analytics.Window) {
	for _, w := range ws {
		delete(t.windows, w.Start.UnixMilli())
		n := min(int(w.LateEvents), len(t.late))
		t.late = t.late[n:]
	}
}

// committable returns the partitions whose committable offset moved since
// the last call, with that offset, and remembers them as committed.
func (t *offsetTracker) committable() map[int32]int64 {
	c := maps.Clone(t.next)
	hold := func(p int32, off int64) {
		if cur, ok := c[p]; ok && off < cur {
			c[p] = off
		}
	}
	for _, byPart := range t.windows {
		for p, off := range byPart {
			hold(p, off)
		}
	}
	for _, po := range t.late {
		hold(po.partition, po.offset)
	}
	out := map[int32]int64{}
	for p, off := range c {
		if prev, ok := t.committed[p]; !ok || off > prev {
			out[p] = off
			t.committed[p] = off
		}
	}
	return out
}

// forget drops what was committed, so that a new session (which may start
// from an older committed offset) gets the offsets again.
func (t *offsetTracker) forgetCommitted() { clear(t.committed) }
