package flink

import (
	"context"
	"slices"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Lister reads the windows of a running job for the ops API (it satisfies
// analytics/app.WindowLister): the job's output and late topics, merged.
// Each call reads both topics from their start, which is cheap for the
// hundreds of windows of a testbed run (one per window size) and keeps the
// reader stateless; a long-lived deployment would consume incrementally.
type Lister struct {
	Job JobConfig
}

// ListWindows returns up to limit windows, newest first.
func (l Lister) ListWindows(ctx context.Context, limit int) ([]events.WindowResult, error) {
	if limit < 1 {
		return nil, errs.InvalidField("limit", "must be positive, got %d", limit)
	}
	ws, _, err := ReadResults(ctx, l.Job.Brokers, l.Job)
	if err != nil {
		return nil, errs.E(errs.Unavailable, "read the Flink job's windows: %v", err)
	}
	// A window the job emitted twice (a restart from a checkpoint) has one
	// event id; keep its last copy.
	seen := map[string]bool{}
	out := make([]events.WindowResult, 0, min(limit, len(ws)))
	for _, w := range slices.Backward(ws) {
		if seen[w.EventID] {
			continue
		}
		seen[w.EventID] = true
		out = append(out, w)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
