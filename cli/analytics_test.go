package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/api/events"
)

func TestAnalyticsReplayGoClosesEveryWindow(t *testing.T) {
	ev := func(id, at string) string {
		return `{"schema_version":1,"event_id":"` + id + `","type":"OrderPlaced","occurred_at":"` + at +
			`","order_id":"o-` + id + `","user_id":"u","items":[{"product_id":"p","quantity":2,"unit_price_cents":5,"category":"c"}],"total_cents":10,"currency":"USD"}`
	}
	in := strings.Join([]string{
		ev("a", "2024-05-01T12:00:01Z"),
		ev("a", "2024-05-01T12:00:01Z"), // duplicate
		ev("b", "2024-05-01T12:00:16Z"), // closes [0,10)
		ev("c", "2024-05-01T12:00:02Z"), // late
		`{"schema_version":1,"event_id":"x","type":"OrderPlaced","occurred_at":"2024-05-01T14:00:03+02:00","order_id":"o","items":[],"total_cents":1}`,
	}, "\n")
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), []string{"shoplab", "analytics", "replay", path, "--engine", "go", "--window", "10s"}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var ws []events.WindowResult
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var w events.WindowResult
		if err := json.Unmarshal([]byte(l), &w); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		ws = append(ws, w)
	}
	if len(ws) != 2 || ws[0].OrderCount != 1 || ws[1].OrderCount != 1 || ws[1].LateEvents != 1 || ws[0].ItemsSold != 2 {
		t.Fatalf("got %+v", ws)
	}
	if ws[1].EventID != events.WindowEventID(ws[1].WindowStart, ws[1].WindowEnd) || ws[1].SchemaVersion != 1 {
		t.Errorf("window identity: %+v", ws[1])
	}
	if !strings.Contains(errOut.String(), "occurred_at must be UTC") {
		t.Errorf("the non-UTC line is not reported: %s", errOut.String())
	}
}

func TestAnalyticsReplayRefusesABadEngine(t *testing.T) {
	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"shoplab", "analytics", "replay", "--engine", "spark", "x.jsonl"}, &out, &errOut)
	if code, ok := ExitCode(err); !ok || code != 2 {
		t.Fatalf("want exit 2, got %v", err)
	}
}
