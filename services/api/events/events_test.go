package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeOrderPlacedRefusesNonUTC(t *testing.T) {
	const tmpl = `{"schema_version":1,"event_id":"e","type":"OrderPlaced","occurred_at":"%s","order_id":"o","items":[],"total_cents":0}`
	if _, err := DecodeOrderPlaced([]byte(strings.Replace(tmpl, "%s", "2024-05-01T12:00:00.5Z", 1))); err != nil {
		t.Fatalf("UTC: %v", err)
	}
	for _, ts := range []string{"2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00+00:00"} {
		_, err := DecodeOrderPlaced([]byte(strings.Replace(tmpl, "%s", ts, 1)))
		if err == nil || !strings.Contains(err.Error(), "occurred_at") {
			t.Errorf("%s: want an occurred_at error, got %v", ts, err)
		}
	}
}

func TestWindowEventIDIsAFunctionOfTheWindow(t *testing.T) {
	s := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	got := WindowEventID(s, s.Add(10*time.Second))
	if want := "window-2024-05-01T12:00:00.000Z-2024-05-01T12:00:10.000Z"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if WindowEventID(s.In(time.FixedZone("x", 3600)), s.Add(10*time.Second)) != got {
		t.Fatal("the id depends on the location of the time")
	}
}

func TestWatermarkTickIsNoOrder(t *testing.T) {
	b := EncodeWatermarkTick(time.Date(2026, 12, 4, 12, 0, 0, 0, time.FixedZone("x", 3600)))
	if _, err := DecodeOrderPlaced(b); !errors.Is(err, ErrWatermarkTick) {
		t.Fatalf("DecodeOrderPlaced(%s) = %v, want ErrWatermarkTick", b, err)
	}
	if !strings.Contains(string(b), `"occurred_at":"2026-12-04T11:00:00.000Z"`) {
		t.Fatalf("tick %s: occurred_at not UTC with milliseconds", b)
	}
	if _, err := DecodeOrderPlaced([]byte(`{"schema_version":9,"type":"WatermarkTick"}`)); err == nil || errors.Is(err, ErrWatermarkTick) {
		t.Fatalf("a tick of an unknown schema_version: %v, want an invalid record", err)
	}
}
