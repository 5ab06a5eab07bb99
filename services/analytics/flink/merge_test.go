package flink

import (
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
)

// TestMergeAttachesLateEventsToTheNextWindowToClose needs no broker: the
// attribution rule alone.
func TestMergeAttachesLateEventsToTheNextWindowToClose(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ws := []events.WindowResult{{WindowStart: at(0)}, {WindowStart: at(20 * time.Second)}, {WindowStart: at(30 * time.Second)}}
	late := []LateEvent{
		{EventID: "a", Watermark: at(9999 * time.Millisecond)},  // [0,10) just closed: next to close is [20,30)
		{EventID: "b", Watermark: at(-time.Second)},             // [0,10) still open
		{EventID: "c", Watermark: at(29998 * time.Millisecond)}, // [20,30) open at 29.998 + 1 ms
		{EventID: "d", Watermark: at(29999 * time.Millisecond)}, // [20,30) closed: [30,40)
		{EventID: "e", Watermark: at(40 * time.Second)},         // no window left: pending
	}
	pending := Merge(ws, late, 10*time.Second)
	got := []int64{ws[0].LateEvents, ws[1].LateEvents, ws[2].LateEvents}
	if want := []int64{1, 2, 1}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("late_events per window: got %v, want %v", got, want)
	}
	if len(pending) != 1 || pending[0].EventID != "e" {
		t.Errorf("pending: got %+v, want e", pending)
	}
}
