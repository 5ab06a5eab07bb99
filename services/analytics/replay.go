package analytics

import (
	"time"

	"github.com/shoplab/shoplab/services/api/events"
)

// Replay runs events through a fresh engine as one stream, in the order
// given, and returns every window, the last ones closed by Flush: what a
// bounded Flink job over a one-partition topic computes from the same
// records. Processing time does not move (idleness is off), so the result
// is a function of the events alone; only closed_at carries now.
func Replay(now time.Time, evs []events.OrderPlaced, opts ...Option) ([]events.WindowResult, error) {
	e, err := NewWindowEngine(append(opts, WithIdleTimeout(0))...)
	if err != nil {
		return nil, err
	}
	out := []events.WindowResult{}
	e.Track(now, 0)
	for _, ev := range evs {
		e.Add(now, 0, ev)
		for _, w := range e.Advance(now) {
			out = append(out, w.Result())
		}
	}
	for _, w := range e.Flush(now) {
		out = append(out, w.Result())
	}
	return out, nil
}
