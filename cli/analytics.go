package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/analytics/flink"
	"github.com/shoplab/shoplab/services/api/events"
)

// analyticsLong is the help of `shoplab analytics replay`.
const analyticsLong = `Feeds a file of OrderPlaced events (one JSON object per line, in the order
given, - for stdin) through one analytics engine as one stream and prints
every window it closes as one WindowResult JSON per line, in close order.
The end of input closes the windows still open (the Go engine's Flush; for
Flink, a bounded read whose final watermark fires them). closed_at is
processing time and differs between runs; every other field must be equal
across the engines.

  go     runs in-process, no broker needed.
  flink  builds services/analytics/flink with Maven if needed (java 17 and
         mvn on PATH), produces the events keyed by order id to a fresh
         one-partition topic on --brokers, runs orders.sql over it in a
         local MiniCluster and reads analytics-results back. Late events
         are attached to windows from the job's late topic.

Lines the engines refuse (not an OrderPlaced, non-UTC occurred_at) are
skipped by both and counted on stderr. The flags take no SHOPLAB_* fallback
but --brokers, from SHOPLAB_KAFKA_BROKERS.`

// runAnalytics is `shoplab analytics`.
func runAnalytics(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "replay" {
		return usageError("analytics: want the subcommand replay")
	}
	fs := e.bridge(flag.NewFlagSet("shoplab analytics replay", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var (
		engine  = fs.String("engine", "go", "go or flink")
		window  = fs.Duration("window", analytics.DefaultWindow, "tumbling window size")
		delay   = fs.Duration("out-of-orderness", analytics.DefaultOutOfOrderness, "watermark bound")
		brokers = fs.String("brokers", "127.0.0.1:19092", "flink: Kafka bootstrap brokers, comma separated (env SHOPLAB_KAFKA_BROKERS)")
		dir     = fs.String("flink-dir", "", "flink: the Maven module (default: services/analytics/flink above the working directory)")
		keep    = fs.Bool("keep-topics", false, "flink: leave the replay's topics on the broker")
		verbose = fs.Bool("v", false, "flink: the JVM's log on stderr")
	)
	if v, ok := e.lookup("SHOPLAB_KAFKA_BROKERS"); ok && v != "" {
		*brokers = v
	}
	pos, err := parseInterleaved(fs, args[1:], nil)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return usageError("analytics replay: want one events file, got %d", len(pos))
	}
	if *engine != "go" && *engine != "flink" {
		return usageError("analytics replay: --engine: want go or flink, got %q", *engine)
	}
	values, err := readLines(pos[0])
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	evs := make([]events.OrderPlaced, 0, len(values))
	var keys []string
	skipped := 0
	for i, v := range values {
		ev, err := events.DecodeOrderPlaced(v)
		if err != nil {
			skipped++
			fmt.Fprintf(e.stderr, "%s:%d: skipped: %v\n", pos[0], i+1, err)
			keys = append(keys, "")
			continue
		}
		evs = append(evs, ev)
		keys = append(keys, ev.OrderID)
	}
	var windows []events.WindowResult
	switch *engine {
	case "go":
		windows, err = analytics.Replay(time.Now(), evs, analytics.WithWindow(*window), analytics.WithOutOfOrderness(*delay))
	case "flink":
		rt := flink.Runtime{ModuleDir: *dir}
		if *verbose {
			rt.Log = e.stderr
		}
		var srv *flink.Server
		srv, err = flink.StartServer(ctx, rt)
		if err != nil {
			return err
		}
		defer srv.Close()
		var pending []flink.LateEvent
		// Every line goes to the topic, refused ones too: the job must
		// skip them itself, as it would on the orders topic.
		windows, pending, err = srv.Replay(ctx, flink.ReplayConfig{
			Brokers: strings.Split(*brokers, ","), Window: *window, OutOfOrderness: *delay, Keep: *keep,
		}, keys, values)
		if len(pending) > 0 {
			fmt.Fprintf(e.stderr, "%d late events no window reported (input ended first)\n", len(pending))
		}
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for _, w := range windows {
		if err := enc.Encode(w); err != nil {
			return err
		}
	}
	if skipped > 0 {
		fmt.Fprintf(e.stderr, "%d of %d lines skipped\n", skipped, len(values))
	}
	return nil
}

func readLines(path string) ([][]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var out [][]byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		if b := strings.TrimSpace(sc.Text()); b != "" {
			out = append(out, []byte(b))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
