package analytics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtureConfig is testdata/config.json: the engine settings every fixture
// runs with, which the Flink job must use too.
type fixtureConfig struct {
	Window         string `json:"window"`
	OutOfOrderness string `json:"out_of_orderness"`
	IdleTimeout    string `json:"idle_timeout"`
	DedupRetention string `json:"dedup_retention"`
}

// fixtureLine is one line of a *.input.jsonl fixture (format in README.md).
type fixtureLine struct {
	At        time.Time       `json:"at"`
	Assign    []int32         `json:"assign,omitempty"`
	Partition int32           `json:"partition"`
	Event     json.RawMessage `json:"event,omitempty"`
	End       bool            `json:"end,omitempty"`
	Note      string          `json:"note,omitempty"` // for readers; ignored
}

func loadFixtureOptions(tb testing.TB) []Option {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var c fixtureConfig
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	d := func(s string) time.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			tb.Fatalf("config.json: %v", err)
		}
		return v
	}
	return []Option{WithWindow(d(c.Window)), WithOutOfOrderness(d(c.OutOfOrderness)), WithIdleTimeout(d(c.IdleTimeout)), WithDedupRetention(d(c.DedupRetention))}
}

// replayFixture plays a fixture through a fresh engine: Track on assign
// lines, Add then Advance on event lines, Advance on bare lines and Flush on
// the end line. It returns every window closed, in order.
func replayFixture(tb testing.TB, path string, opts []Option) []events.WindowResult {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	e, err := NewWindowEngine(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	out := []events.WindowResult{}
	emit := func(ws []Window) {
		for _, w := range ws {
			out = append(out, w.Result())
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var last time.Time
	for n := 1; sc.Scan(); n++ {
		var l fixtureLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			tb.Fatalf("%s:%d: %v", path, n, err)
		}
		if l.At.Before(last) {
			tb.Fatalf("%s:%d: arrival times must not go backwards", path, n)
		}
		last = l.At
		switch {
		case l.End:
			emit(e.Flush(l.At))
		case l.Assign != nil:
			for _, p := range l.Assign {
				e.Track(l.At, p)
			}
		case l.Event != nil:
			ev, err := events.DecodeOrderPlaced(l.Event)
			if err != nil {
				tb.Fatalf("%s:%d: %v", path, n, err)
			}
			e.Add(l.At, l.Partition, ev)
			emit(e.Advance(l.At))
		default:
			emit(e.Advance(l.At))
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestGoldenFixtures holds the engine to testdata/*.golden.json, the
// contract the Flink job is held to as well. Run with -update to rewrite
// them after a deliberate change of semantics, and review the diff.
func TestGoldenFixtures(t *testing.T) {
	opts := loadFixtureOptions(t)
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.input.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 6 {
		t.Fatalf("found %d fixtures, want at least 6", len(inputs))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.jsonl")
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(replayFixture(t, in, opts), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the engine's output:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}
