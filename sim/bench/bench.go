// Package bench measures shoplab side by side: each figure next to a
// baseline measured in the same run on the same machine (a bare net/http
// handler started by the bench, wrk when it is installed), so a shared,
// noisy machine still gives ratios worth comparing. It drives a `shoplab
// up` child process as a user would, over HTTP, and reports a table and JSON.
package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options say what to run.
type Options struct {
	Binary   string        // the shoplab binary to run `up` with; "" means this executable
	Duration time.Duration // per load figure; 0 means 10s (2s with Short)
	Short    bool          // CI: short runs, same figures
	Wrk      string        // path of wrk; "" looks it up on PATH
	// Env, when set (host, or an env file), adds the orders/s of the
	// same closed loop on that env's real parts, next to the local figure
	// of this run (`up --env Env --run-id ...`: its own databases and tables).
	Env      string
	Progress io.Writer
}

// Figure is one measured number, with its baseline and goal.
type Figure struct {
	Name     string   `json:"name"`
	Value    float64  `json:"value"`
	Unit     string   `json:"unit"`
	Baseline *float64 `json:"baseline,omitempty"` // measured in the same run
	BaseName string   `json:"baseline_name,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"` // Value / Baseline
	Goal     string   `json:"goal,omitempty"`
	Met      *bool    `json:"met,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// Machine is where the figures were measured.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Load       string `json:"loadavg,omitempty"` // /proc/loadavg at the start: how busy the shared machine was
}

// Report is one bench run.
type Report struct {
	StartedAt time.Time `json:"started_at"`
	Short     bool      `json:"short"`
	Seconds   float64   `json:"seconds"`
	Machine   Machine   `json:"machine"`
	Figures   []Figure  `json:"figures"`
}

func (r *Report) add(f Figure) { r.Figures = append(r.Figures, f) }

func ptr[T any](v T) *T { return &v }

// ratio fills Ratio and, when goal is set, Met (ratio >= goal, or <= for
// a figure where less is better).
func ratioFigure(name, unit string, value, base float64, baseName string, goal float64, goalText string) Figure {
	f := Figure{Name: name, Unit: unit, Value: value, Baseline: ptr(base), BaseName: baseName, Goal: goalText}
	if base > 0 {
		f.Ratio = ptr(value / base)
		if goal > 0 {
			f.Met = ptr(*f.Ratio >= goal)
		}
	}
	return f
}

func atMost(name, unit string, value, goal float64, goalText string) Figure {
	return Figure{Name: name, Unit: unit, Value: value, Goal: goalText, Met: ptr(value <= goal)}
}

func atLeast(name, unit string, value, goal float64, goalText string) Figure {
	return Figure{Name: name, Unit: unit, Value: value, Goal: goalText, Met: ptr(value >= goal)}
}

// Run measures every figure and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
		if o.Short {
			o.Duration = 2 * time.Second
		}
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Binary = exe
	}
	if o.Wrk == "" {
		o.Wrk, _ = exec.LookPath("wrk")
	}
	started := time.Now()
	rep := &Report{StartedAt: started.UTC(), Short: o.Short, Machine: machine()}
	say := func(format string, a ...any) { fmt.Fprintf(o.Progress, "• "+format+"\n", a...) }

	say("starting `shoplab up` (fresh data dir)")
	up, err := startUp(ctx, o.Binary)
	if err != nil {
		return nil, err
	}
	defer up.stop()
	rep.add(atMost("up: ready", "s", up.ready.Seconds(), 0.5, "<= 0.5 s"))
	time.Sleep(time.Second)
	rep.add(atMost("up: idle RSS", "MB", float64(up.rss())/1e6, 100, "<= 100 MB"))

	sh, err := newShop(ctx, up.gateway)
	if err != nil {
		return nil, err
	}
	body, err := sh.productBody(ctx)
	if err != nil {
		return nil, err
	}
	bare, err := startBare(body)
	if err != nil {
		return nil, err
	}
	defer bare.Close()

	product := up.gateway + "/api/v1/products/" + sh.productID
	list := up.gateway + "/api/v1/products?category=books&limit=20"
	tool := "wrk -t2 -c64"
	get := func(url string) (float64, error) {
		if o.Wrk != "" {
			return runWrk(ctx, o.Wrk, url, o.Duration)
		}
		return closedLoopGet(ctx, url, 64, o.Duration)
	}
	if o.Wrk == "" {
		tool = "the bench's closed loop, 64 connections (wrk not installed)"
	}
	say("GET throughput with %s, %s each", tool, o.Duration)
	bareRPS, err := get(bare.URL)
	if err != nil {
		return nil, fmt.Errorf("bare handler: %w", err)
	}
	prodRPS, err := get(product)
	if err != nil {
		return nil, fmt.Errorf("GET product: %w", err)
	}
	listRPS, err := get(list)
	if err != nil {
		return nil, fmt.Errorf("GET list: %w", err)
	}
	f := ratioFigure("GET /api/v1/products/{id}", "req/s", prodRPS, bareRPS, "bare net/http handler, same JSON body", 0.35, ">= 0.35 of the bare handler")
	f.Note = tool
	rep.add(f)
	f = ratioFigure("GET /api/v1/products?category=books&limit=20", "req/s", listRPS, prodRPS, "GET /api/v1/products/{id}", 0.5, ">= 0.5 of the single product")
	f.Note = tool
	rep.add(f)

	say("orders, closed loop, 32 connections, %s", o.Duration)
	cl, err := sh.ordersClosedLoop(ctx, 32, o.Duration)
	if err != nil {
		return nil, err
	}
	rep.add(atLeast("orders placed, closed loop, 32 connections", "orders/s", cl.rate, 1500, ">= 1500/s"))
	rep.add(Figure{Name: "  closed loop p50", Unit: "ms", Value: ms(cl.p50)})
	rep.add(Figure{Name: "  closed loop p99", Unit: "ms", Value: ms(cl.p99)})
	if o.Env != "" {
		if err := envOrders(ctx, o, rep, cl.rate, say); err != nil {
			return nil, err
		}
	}
	if cl.errors > 0 {
		rep.Figures[len(rep.Figures)-3].Note = fmt.Sprintf("%d requests failed: %s", cl.errors, cl.firstErr)
	}

	half := max(cl.rate/2, 20)
	say("orders, open model at %.0f/s (half the closed-loop rate), %s", half, o.Duration)
	op, err := sh.ordersOpen(ctx, half, o.Duration)
	if err != nil {
		return nil, err
	}
	f = atMost(fmt.Sprintf("orders at %.0f/s open model: p99", half), "ms", ms(op.p99), 50, "<= 50 ms")
	f.Note = fmt.Sprintf("latency from the intended start; %d of %d placed, %d dropped", op.placed, op.scheduled, op.dropped)
	rep.add(f)

	emailRate := 200.0
	say("order -> email at %.0f orders/s, %s", emailRate, o.Duration)
	em, err := sh.ordersOpen(ctx, emailRate, o.Duration)
	if err != nil {
		return nil, err
	}
	p99, n, err := sh.emailLatency(ctx, up.ops, em.orders)
	if err != nil {
		return nil, err
	}
	f = atMost("order created -> email recorded, p99 at 200 orders/s", "ms", ms(p99), 250, "<= 250 ms")
	f.Note = fmt.Sprintf("%d orders, from the order's created_at to the mailbox's sent_at (one clock)", n)
	rep.add(f)

	say("built-in load generator at full speed on GET product, %s", o.Duration)
	genRPS, err := sh.generatorMax(ctx, sh.productID, max(prodRPS*1.5, 1000), o.Duration)
	if err != nil {
		return nil, err
	}
	if o.Wrk != "" {
		rep.add(ratioFigure("built-in generator max rate, GET product", "req/s", genRPS, prodRPS, "wrk on the same endpoint", 0.9, ">= 0.9 of wrk"))
	} else {
		rep.add(Figure{Name: "built-in generator max rate, GET product", Unit: "req/s", Value: genRPS, Goal: ">= 0.9 of wrk", Note: "baseline missing: wrk is not installed (apt-get install -y wrk)"})
	}
	rep.add(atMost("up: RSS after the order load", "MB", float64(up.rss())/1e6, 200, "<= 200 MB"))

	say("Go window engine, one goroutine")
	evs := windowEngineRate(o.Short)
	rep.add(atLeast("Go window engine", "events/s", evs, 1e6, ">= 1M events/s on one core"))

	rep.Seconds = time.Since(started).Seconds()
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load = strings.TrimSpace(string(b))
	}
	return m
}

// upProcess is a `shoplab up` child.
type upProcess struct {
	cmd     *exec.Cmd
	gateway string
	ops     string
	ready   time.Duration
	dataDir string
	exited  chan error
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startUp(ctx context.Context, bin string, extra ...string) (*upProcess, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	dir, err := os.MkdirTemp("", "shoplab-bench-")
	if err != nil {
		return nil, err
	}
	u := &upProcess{gateway: "http://" + addrs[0], ops: "http://" + addrs[1], dataDir: dir, exited: make(chan error, 1)}
	args := append([]string{"up", "--gateway-addr", addrs[0], "--ops-addr", addrs[1], "--toxiproxy-addr", addrs[2],
		"--data-dir", filepath.Join(dir, "data"), "--log-level", "error"}, extra...)
	u.cmd = exec.Command(bin, args...)
	u.cmd.Stdout, u.cmd.Stderr = io.Discard, io.Discard
	t0 := time.Now()
	if err := u.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s up: %w", bin, err)
	}
	go func() { u.exited <- u.cmd.Wait() }()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-u.exited:
			return nil, fmt.Errorf("shoplab up exited before it was ready: %v", err)
		case <-ctx.Done():
			u.stop()
			return nil, ctx.Err()
		default:
		}
		if resp, err := hc.Get(u.ops + "/ops/v1/units"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				u.ready = time.Since(t0)
				return u, nil
			}
		}
		if time.Now().After(deadline) {
			u.stop()
			return nil, errors.New("shoplab up was not ready within 90s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rss is the child's resident set size in bytes (0 when unknown).
func (u *upProcess) rss() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", u.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (u *upProcess) stop() {
	if u.cmd.Process != nil {
		_ = u.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-u.exited:
		case <-time.After(20 * time.Second):
			_ = u.cmd.Process.Kill()
			<-u.exited
		}
	}
	_ = os.RemoveAll(u.dataDir)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nshoplab bench (%d cores, GOMAXPROCS %d, %s %s/%s, load %s)%s\n\n", r.Machine.Cores, r.Machine.GOMAXPROCS, r.Machine.GoVersion, r.Machine.OS, r.Machine.Arch, r.Machine.Load, map[bool]string{true: " --short", false: ""}[r.Short])
	fmt.Fprintf(w, "%-56s %12s %-9s %12s %7s  %-28s %s\n", "figure", "value", "", "baseline", "ratio", "goal", "met")
	for _, f := range r.Figures {
		base, ratio, met := "", "", ""
		if f.Baseline != nil {
			base = fmt.Sprintf("%.1f", *f.Baseline)
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *f.Ratio)
		}
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*f.Met]
		}
		fmt.Fprintf(w, "%-56s %12.1f %-9s %12s %7s  %-28s %s\n", f.Name, f.Value, f.Unit, base, ratio, f.Goal, met)
		if f.BaseName != "" || f.Note != "" {
			var parts []string
			if f.BaseName != "" {
				parts = append(parts, "baseline: "+f.BaseName)
			}
			if f.Note != "" {
				parts = append(parts, f.Note)
			}
			fmt.Fprintf(w, "%-56s %s\n", "", strings.Join(parts, "; "))
		}
	}
	fmt.Fprintf(w, "\n%.0f s in all. Ratios compare figures measured in this run; absolute numbers move with the machine's load.\n", r.Seconds)
}

// envOrders measures the closed loop of orders on o.Env's real parts and
// adds it next to local, the same loop's rate on the embedded env of this
// run.
func envOrders(ctx context.Context, o Options, rep *Report, local float64, say func(string, ...any)) error {
	var b [4]byte
	_, _ = rand.Read(b[:])
	say("starting `shoplab up --env %s` (its own databases and tables)", o.Env)
	up, err := startUp(ctx, o.Binary, "--env", o.Env, "--run-id", "bench"+hex.EncodeToString(b[:]))
	if err != nil {
		return fmt.Errorf("up --env %s: %w", o.Env, err)
	}
	defer up.stop()
	sh, err := newShop(ctx, up.gateway)
	if err != nil {
		return fmt.Errorf("env %s: %w", o.Env, err)
	}
	say("orders on env %s, closed loop, 32 connections, %s", o.Env, o.Duration)
	cl, err := sh.ordersClosedLoop(ctx, 32, o.Duration)
	if err != nil {
		return fmt.Errorf("env %s: %w", o.Env, err)
	}
	f := ratioFigure("orders placed, closed loop, 32 connections, env "+o.Env, "orders/s", cl.rate, local, "the same loop on the local env, this run", 0, "")
	f.Note = fmt.Sprintf("p50 %.0f ms, p99 %.0f ms, %d errors", ms(cl.p50), ms(cl.p99), cl.errors)
	rep.add(f)
	return nil
}
