package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/shopclient"
)

// newCannedServer answers the product routes with precomputed bodies the
// size the gateway sends (a page of 20 products is about 3 KB), so that a
// benchmark measures the simulator rather than a catalog.
func newCannedServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	categories := []string{"apparel", "kitchen", "outdoor", "electronics", "home"}
	products := make([]shopclient.Product, 60)
	for i := range products {
		products[i] = shopclient.Product{
			ID:         fmt.Sprintf("prod-%08x-%04x-4%03x-a%03x-%012x", 0x5f3a9c2e+i*7919, i, i*13%4096, i*31%4096, 0x1b2c3d4e5f+i),
			Name:       fmt.Sprintf("%s No. %d", fakeNames[i%len(fakeNames)], i),
			Category:   categories[i%len(categories)],
			PriceCents: int64(499 + i*250),
			Currency:   "USD",
			Stock:      int64(1000 - i),
		}
	}
	page := func(from int) []byte {
		p := shopclient.ProductPage{Items: products[from : from+20], NextCursor: strconv.Itoa(from + 20)}
		if from+20 >= len(products) {
			p.NextCursor = ""
		}
		b, err := json.Marshal(p)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	pages := map[string][]byte{"": page(0), "20": page(20), "40": page(40)}
	one := map[string][]byte{}
	for _, p := range products {
		b, err := json.Marshal(p)
		if err != nil {
			tb.Fatal(err)
		}
		one["/api/v1/products/"+p.ID] = b
	}
	write := func(w http.ResponseWriter, body []byte) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/products" {
			if b, ok := pages[r.URL.Query().Get("cursor")]; ok {
				write(w, b)
				return
			}
		} else if b, ok := one[r.URL.Path]; ok {
			write(w, b)
			return
		}
		http.NotFound(w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	u, s := cpuTimes(tb)
	return u + s
}

// cpuTimes is the process's user and system CPU time so far.
func cpuTimes(tb testing.TB) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkBrowse2000rps runs the browse journey (2 or 3 requests per
// iteration) on the real executor for 3 seconds against a server with
// canned bodies, and reports the CPU the simulator's process used next to
// the achieved rates. 800 it/s is about 2,000 req/s; 2000 it/s about 5,000.
//
// With server=inproc the server is an httptest server in the same process,
// so cpu-cores is the simulator and the server together: an upper bound.
// With server=process the same server runs in a child process (the test
// binary again, see TestCannedServerProcess), so cpu-cores is the
// simulator's alone and server-cpu-cores the server's.
func BenchmarkBrowse2000rps(b *testing.B) {
	for _, where := range []string{"inproc", "process"} {
		for _, rate := range []float64{800, 2000} {
			b.Run(fmt.Sprintf("server=%s/it=%.0f", where, rate), func(b *testing.B) {
				url, serverCPU := "", func() time.Duration { return 0 }
				if where == "inproc" {
					url = newCannedServer(b).URL
				} else {
					url, serverCPU = startCannedServerProcess(b)
				}
				benchBrowse(b, url, rate, serverCPU)
			})
		}
	}
}

func benchBrowse(b *testing.B, url string, rate float64, serverCPU func() time.Duration) {
	const d = 3 * time.Second
	var reqs, its, dropped, errs float64
	var cpu, sys, srvCPU, wall, p99 time.Duration
	for range b.N {
		r := mustRunner(b, Config{BaseURL: url, Executor: ConstantArrivalRate, Rate: rate, Duration: d, MaxInFlight: 200, Journeys: map[string]float64{JourneyBrowse: 1}, Seed: 1})
		// Warm the connection pool, as a long run would be.
		warm, cancel := context.WithTimeout(b.Context(), 5*time.Second)
		for range 50 {
			_, _ = r.client.ListProducts(warm, "", "", 20, "")
		}
		cancel()
		u0, k0 := cpuTimes(b)
		s0, t0 := serverCPU(), time.Now()
		res, err := r.Run(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		u1, k1 := cpuTimes(b)
		cpu += u1 - u0 + k1 - k0
		sys += k1 - k0
		srvCPU += serverCPU() - s0
		wall += time.Since(t0)
		reqs += float64(res.Total.Requests)
		its += float64(res.Total.Iterations)
		dropped += float64(res.Dropped)
		errs += float64(res.Total.Errors)
		p99 = max(p99, res.Total.P99)
		r.Close()
	}
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-cores")
	b.ReportMetric(sys.Seconds()/wall.Seconds(), "sys-cores") // the kernel's share of cpu-cores
	if srvCPU > 0 {
		b.ReportMetric(srvCPU.Seconds()/wall.Seconds(), "server-cpu-cores")
	}
	b.ReportMetric(reqs/wall.Seconds(), "req/s")
	// CPU per request barely depends on what else the machine runs,
	// unlike cpu-cores at a rate a busy machine may not sustain.
	b.ReportMetric(float64(cpu.Microseconds())/reqs, "cpu-µs/req")
	b.ReportMetric(its/wall.Seconds(), "it/s")
	b.ReportMetric(dropped/float64(b.N), "dropped/run")
	b.ReportMetric(errs/float64(b.N), "errors/run")
	b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(0, "ns/op") // one op is a whole run: meaningless
}

// cannedServerArg tells the test binary, run again as a child, to serve.
const cannedServerArg = "serve-canned-catalog"

// TestCannedServerProcess is the child half of BenchmarkBrowse2000rps's
// server=process case: it serves the canned bodies until its stdin closes.
// Run as a plain test it skips.
func TestCannedServerProcess(t *testing.T) {
	if flag.Arg(0) != cannedServerArg {
		t.Skip("the server half of BenchmarkBrowse2000rps; not a test on its own")
	}
	fmt.Println(newCannedServer(t).URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startCannedServerProcess runs TestCannedServerProcess in a child process
// and returns its URL and a reader of its CPU time.
func startCannedServerProcess(b *testing.B) (string, func() time.Duration) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCannedServerProcess$", "-test.count=1", cannedServerArg)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		b.Fatalf("the server process said %q: %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	pid := cmd.Process.Pid
	return strings.TrimSpace(line), func() time.Duration { return processCPU(b, pid) }
}

// processCPU reads a process's user + system time from /proc (Linux).
func processCPU(tb testing.TB, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command, which is in parentheses and may hold spaces:
	// state is field 3, utime 14 and stime 15, in clock ticks of 1/100 s.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("parse /proc/%d/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// BenchmarkIterationOverhead measures what the simulator adds to each
// iteration, the network aside: the hand-off to a worker, the pooled
// session and its seeded generator, a recorded request and the recorded
// iteration.
func BenchmarkIterationOverhead(b *testing.B) {
	noop := NewJourney("noop", func(ctx context.Context, s *Session) error {
		_ = s.Rand.IntN(10)
		return s.Call(ctx, EndpointGetProduct, nil, func(context.Context, *shopclient.Client) error { return nil })
	})
	r := mustRunner(b, Config{BaseURL: "http://127.0.0.1:1", Executor: ConstantArrivalRate, Rate: 1, Duration: time.Second, Journeys: map[string]float64{"noop": 1, JourneyBrowse: 0}}, WithJourney(noop))
	r.rec.begin(time.Now())
	ctx := b.Context()
	var wg sync.WaitGroup
	idle := make(chan job)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.inFlight.Add(1)
		jb := job{journey: noop, index: int64(i), due: time.Now()}
		select {
		case idle <- jb:
		default:
			wg.Add(1)
			go r.worker(ctx, &wg, idle, jb)
		}
	}
	close(idle)
	wg.Wait()
}

// BenchmarkBrowseIteration is one whole browse iteration over loopback,
// one at a time: the client's work per iteration (and the canned
// server's).
func BenchmarkBrowseIteration(b *testing.B) {
	srv := newCannedServer(b)
	r := mustRunner(b, Config{BaseURL: srv.URL, Executor: ConstantArrivalRate, Rate: 1, Duration: time.Second, Journeys: map[string]float64{JourneyBrowse: 1}})
	r.rec.begin(time.Now())
	j := r.journeys[JourneyBrowse]
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r.inFlight.Add(1)
		r.iterate(ctx, j, int64(i), time.Now())
	}
	b.StopTimer()
	if st := r.Window(0, time.Hour); st.Errors != 0 {
		b.Fatalf("%d errors: %+v", st.Errors, st)
	}
}
