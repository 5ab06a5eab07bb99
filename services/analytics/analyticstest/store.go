// Package analyticstest is the contract suite every window store adapter runs.
package analyticstest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/analytics/app"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Store is everything the analytics unit needs from a window store.
type Store interface {
	app.WindowStore
	app.Outbox
	app.WindowLister
}

var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Window returns a closed window starting i windows of 10 s after a fixed
// base, with the given counted and late event ids.
func Window(i int, counted, late []string) analytics.Window {
	start := base.Add(time.Duration(i) * 10 * time.Second)
	w := analytics.Window{
		Start: start, End: start.Add(10 * time.Second), ClosedAt: start.Add(15 * time.Second),
		OrderCount: int64(len(counted)), RevenueCents: 100 * int64(len(counted)), ItemsSold: int64(len(counted)),
		DistinctUsers: 1, TopProducts: []events.ProductUnits{{ProductID: "p", Units: int64(len(counted))}},
		LateEvents: int64(len(late)), EventIDs: counted, LateEventIDs: late,
	}
	for _, id := range counted {
		w.OrderIDs = append(w.OrderIDs, "ord-"+id)
	}
	return w
}

// TestStore runs the contract against stores made by open, each empty.
func TestStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("an empty store has no checkpoint", func(t *testing.T) {
		s := open(t)
		cp, err := s.Checkpoint(ctx)
		if err != nil || !cp.Watermark.IsZero() || len(cp.Seen) != 0 {
			t.Fatalf("checkpoint %+v, %v", cp, err)
		}
		ws, err := s.ListWindows(ctx, 10)
		if err != nil || ws == nil || len(ws) != 0 {
			t.Fatalf("list %v, %v; want an empty, non-nil list", ws, err)
		}
	})

	t.Run("saved windows come back as checkpoint, outbox and list", func(t *testing.T) {
		s := open(t)
		w0, w1 := Window(0, []string{"a", "b"}, nil), Window(1, []string{"c"}, []string{"late-1"})
		wm := w1.End.Add(-time.Millisecond)
		if err := s.SaveClosed(ctx, []analytics.Window{w0, w1}, wm, time.Time{}); err != nil {
			t.Fatal(err)
		}
		cp, err := s.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !cp.Watermark.Equal(wm) {
			t.Fatalf("watermark %s, want %s", cp.Watermark, wm)
		}
		seen := map[string]time.Time{}
		for _, se := range cp.Seen {
			seen[se.EventID] = se.Window
		}
		want := map[string]time.Time{"a": w0.Start, "b": w0.Start, "c": w1.Start, "late-1": w1.Start}
		if len(seen) != len(want) {
			t.Fatalf("seen %v, want %v", seen, want)
		}
		for id, ws := range want {
			if !seen[id].Equal(ws) {
				t.Fatalf("seen %v, want %v", seen, want)
			}
		}

		pending, err := s.Pending(ctx, 10)
		if err != nil || len(pending) != 2 || !pending[0].Start.Equal(w0.Start) || pending[0].Published || pending[0].Archived {
			t.Fatalf("pending %+v, %v", pending, err)
		}
		wantBody, _ := json.Marshal(w0.Result())
		if string(pending[0].Body) != string(wantBody) {
			t.Fatalf("body %s, want %s", pending[0].Body, wantBody)
		}

		got, err := s.ListWindows(ctx, 10)
		if err != nil || len(got) != 2 || !got[0].WindowStart.Equal(w1.Start) || got[0].LateEvents != 1 {
			t.Fatalf("list %+v, %v; want newest first", got, err)
		}
		if !slices.Equal(got[1].OrderIDs, []string{"ord-a", "ord-b"}) {
			t.Fatalf("order ids %v", got[1].OrderIDs)
		}
		if got, _ := s.ListWindows(ctx, 1); len(got) != 1 {
			t.Fatalf("limit 1 returned %d", len(got))
		}
	})

	t.Run("a window leaves the outbox once published and archived", func(t *testing.T) {
		s := open(t)
		w0, w1 := Window(0, []string{"a"}, nil), Window(1, []string{"b"}, nil)
		if err := s.SaveClosed(ctx, []analytics.Window{w0, w1}, w1.End, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkPublished(ctx, w0.Start, base); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkArchived(ctx, w1.Start, base); err != nil {
			t.Fatal(err)
		}
		p, _ := s.Pending(ctx, 10)
		if len(p) != 2 || !p[0].Published || p[0].Archived || p[1].Published || !p[1].Archived {
			t.Fatalf("pending %+v", p)
		}
		if err := s.MarkArchived(ctx, w0.Start, base); err != nil {
			t.Fatal(err)
		}
		p, _ = s.Pending(ctx, 10)
		if len(p) != 1 || !p[0].Start.Equal(w1.Start) {
			t.Fatalf("pending %+v", p)
		}
		if err := s.MarkPublished(ctx, base.Add(-time.Hour), base); !errs.Is(err, errs.NotFound) {
			t.Fatalf("marking an unknown window: %v, want not_found", err)
		}
	})

	t.Run("saving a window twice is a conflict and saves nothing", func(t *testing.T) {
		s := open(t)
		w0 := Window(0, []string{"a"}, nil)
		if err := s.SaveClosed(ctx, []analytics.Window{w0}, w0.End, time.Time{}); err != nil {
			t.Fatal(err)
		}
		w1 := Window(1, []string{"b"}, nil)
		err := s.SaveClosed(ctx, []analytics.Window{w1, w0}, w1.End, time.Time{})
		if !errs.Is(err, errs.Conflict) {
			t.Fatalf("second save: %v, want conflict", err)
		}
		if got, _ := s.ListWindows(ctx, 10); len(got) != 1 {
			t.Fatalf("%d windows stored, want 1 (the failed batch must roll back)", len(got))
		}
		cp, _ := s.Checkpoint(ctx)
		if !cp.Watermark.Equal(w0.End) || len(cp.Seen) != 1 {
			t.Fatalf("checkpoint %+v after a rolled back save", cp)
		}
	})

	t.Run("the horizon prunes accounted ids and the watermark never goes back", func(t *testing.T) {
		s := open(t)
		w0, w1, w2 := Window(0, []string{"a"}, nil), Window(1, []string{"b"}, nil), Window(2, []string{"c"}, []string{"a"})
		if err := s.SaveClosed(ctx, []analytics.Window{w0, w1}, w1.End, time.Time{}); err != nil {
			t.Fatal(err)
		}
		// a comes back late past the engine's retention: it moves to w2.
		if err := s.SaveClosed(ctx, []analytics.Window{w2}, w0.End, w1.Start); err != nil {
			t.Fatal(err)
		}
		cp, _ := s.Checkpoint(ctx)
		if !cp.Watermark.Equal(w1.End) {
			t.Fatalf("watermark %s went back from %s", cp.Watermark, w1.End)
		}
		var ids []string
		for _, se := range cp.Seen {
			ids = append(ids, se.EventID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"a", "b", "c"}) {
			t.Fatalf("seen %v, want a (moved to w2), b, c", ids)
		}
		if err := s.SaveClosed(ctx, []analytics.Window{Window(3, nil, nil)}, w2.End, w2.Start); err != nil {
			t.Fatal(err)
		}
		cp, _ = s.Checkpoint(ctx)
		ids = ids[:0]
		for _, se := range cp.Seen {
			ids = append(ids, se.EventID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"a", "c"}) {
			t.Fatalf("seen %v after pruning before w2, want a, c", ids)
		}
	})
}
