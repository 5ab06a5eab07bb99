// Package parts owns the `host` parts: PostgreSQL 15, an Apache Kafka
// broker (KRaft, one node) and moto_server, run as processes on this
// machine. One Owner starts them, waits until each answers over its own
// protocol, reports them and stops them. It writes only inside its state
// directory (PostgreSQL's data may sit beside it, see pgHome), records the
// PID of what it started and never signals a process it did not start: a
// recorded PID counts as ours only while that process's command line still
// names our state directory.
package parts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Part names, as `--only` takes them.
const (
	Postgres = "postgres"
	Kafka    = "kafka"
	AWS      = "aws"
)

// Names lists every part in start order.
var Names = []string{Postgres, Kafka, AWS}

// Spec is what the env file says about the parts.
type Spec struct {
	KafkaBroker     string   // host:port of the PLAINTEXT listener; the controller listens on port+1
	PostgresAddr    string   // host:port
	PostgresUser    string   // the role to create (a superuser: this is a local testbed)
	Databases       []string // databases to create when CreateDatabases
	CreateDatabases bool
	AWSEndpoint     string // http://host:port of moto_server
	AWSRegion       string
}

// Config configures an Owner.
type Config struct {
	// StateDir holds every part's files, PIDs and logs (see DefaultStateDir).
	StateDir string
	Spec     Spec
	// Only selects parts by name; empty means all of Names.
	Only []string
	// Install runs the install command of a missing prerequisite instead
	// of failing with it.
	Install bool
	// KafkaJMXExporter is the port of the Prometheus JMX exporter agent the
	// broker runs with; 0 runs the broker without it.
	KafkaJMXExporter int
	// ReadyTimeout bounds start plus readiness of each part (default 90s).
	ReadyTimeout time.Duration
	// PrepareTimeout bounds one-time work: initdb, the Maven download, the
	// storage format, installs (default 10m).
	PrepareTimeout time.Duration
	// Progress receives one line per step; nil discards.
	Progress io.Writer
}

// DefaultStateDir is $XDG_CACHE_HOME/shoplab/deps, else ~/.cache/shoplab/deps.
func DefaultStateDir(lookup func(string) (string, bool)) (string, error) {
	if v, ok := lookup("XDG_CACHE_HOME"); ok && v != "" {
		return filepath.Join(v, "shoplab", "deps"), nil
	}
	home, ok := lookup("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", errs.InvalidField("state-dir", "neither XDG_CACHE_HOME nor HOME is set; pass --state-dir")
		}
		home = h
	}
	return filepath.Join(home, ".cache", "shoplab", "deps"), nil
}

// State is what a part is doing.
type State string

// The states a Status reports.
const (
	StateStarted        State = "started"         // Up started it and it answers
	StateAlreadyRunning State = "already running" // Up found it running and answering
	StateRunning        State = "running"         // Status: ours, alive and answering
	StateNotAnswering   State = "not answering"   // ours and alive, but its protocol does not answer
	StateStopped        State = "stopped"         // Down stopped it
	StateNotRunning     State = "not running"     // no live process of ours
	StateFailed         State = "failed"
)

// Status reports one part.
type Status struct {
	Part  string
	Addr  string
	State State
	PID   int
	Log   string
	Note  string // e.g. the JMX exporter's address, where PostgreSQL's data lives
	Err   error
}

// Owner starts, reports and stops the selected parts.
type Owner struct {
	cfg   Config
	parts []part
	apt   sync.Mutex // apt-get installs must not run side by side (dpkg lock)
	out   sync.Mutex // the parts start in parallel and all report progress
}

// part is one kind of process the owner runs.
type part interface {
	name() string
	addr() string
	ports() []string    // every host:port it binds
	dir() string        // <state>/<name>
	marker() string     // a string its process's command line contains
	prereqs() []*prereq // what must be installed before prepare
	prepare(ctx context.Context) error
	start(ctx context.Context, log *os.File) (*proc, error)
	ready(ctx context.Context) error
	stop(ctx context.Context, pid int) error
	note() string
}

// New checks cfg and returns an Owner of the parts it selects.
func New(cfg Config) (*Owner, error) {
	if cfg.StateDir == "" {
		return nil, errs.InvalidField("state-dir", "empty")
	}
	abs, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, errs.InvalidField("state-dir", "%q: %v", cfg.StateDir, err)
	}
	cfg.StateDir = abs
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 90 * time.Second
	}
	if cfg.PrepareTimeout <= 0 {
		cfg.PrepareTimeout = 10 * time.Minute
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	only := cfg.Only
	if len(only) == 0 {
		only = Names
	}
	o := &Owner{cfg: cfg}
	seen := map[string]bool{}
	for _, n := range only {
		n = strings.TrimSpace(n)
		if seen[n] {
			continue
		}
		seen[n] = true
		var p part
		switch n {
		case Postgres:
			p, err = newPostgres(o)
		case Kafka:
			p, err = newKafka(o)
		case AWS:
			p, err = newMoto(o)
		default:
			return nil, errs.InvalidField("only", "unknown part %q (want %s)", n, strings.Join(Names, ","))
		}
		if err != nil {
			return nil, err
		}
		o.parts = append(o.parts, p)
	}
	sort.SliceStable(o.parts, func(i, j int) bool { return order(o.parts[i].name()) < order(o.parts[j].name()) })
	return o, nil
}

func order(name string) int {
	for i, n := range Names {
		if n == name {
			return i
		}
	}
	return len(Names)
}

func (o *Owner) progress(format string, args ...any) {
	o.out.Lock()
	defer o.out.Unlock()
	fmt.Fprintf(o.cfg.Progress, format+"\n", args...)
}

// Up starts every selected part that is not running yet, in parallel, and
// waits until each answers. A part already running is left alone. The
// error names each part that failed, with the tail of its log.
func (o *Owner) Up(ctx context.Context) ([]Status, error) {
	out := make([]Status, len(o.parts))
	var wg sync.WaitGroup
	for i, p := range o.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = o.up(ctx, p)
		}()
	}
	wg.Wait()
	return out, joinFailures(out)
}

func joinFailures(sts []Status) error {
	var failed []error
	for _, s := range sts {
		if s.Err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", s.Part, s.Err))
		}
	}
	return errors.Join(failed...)
}

func (o *Owner) up(ctx context.Context, p part) Status {
	st := Status{Part: p.name(), Addr: p.addr(), Log: logPath(p)}
	fail := func(err error) Status {
		st.State, st.Err = StateFailed, err
		return st
	}
	if err := os.MkdirAll(p.dir(), 0o755); err != nil {
		return fail(fmt.Errorf("state dir: %w", err))
	}
	if rec, ok := o.live(p); ok {
		st.PID = rec.PID
		rctx, cancel := context.WithTimeout(ctx, o.cfg.ReadyTimeout)
		defer cancel()
		if err := waitReady(rctx, p, nil); err != nil {
			return fail(fmt.Errorf("pid %d (ours) is alive but does not answer on %s: %w%s", rec.PID, p.addr(), err, logTail(st.Log)))
		}
		st.State, st.Note = StateAlreadyRunning, p.note()
		return st
	}
	for _, addr := range p.ports() {
		if err := portFree(addr); err != nil {
			return fail(err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, o.cfg.PrepareTimeout)
	defer cancel()
	if err := o.ensurePrereqs(pctx, p); err != nil {
		return fail(err)
	}
	o.progress("%s: preparing in %s", p.name(), p.dir())
	if err := p.prepare(pctx); err != nil {
		return fail(err)
	}
	log, err := os.OpenFile(st.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail(fmt.Errorf("log: %w", err))
	}
	defer log.Close()
	fmt.Fprintf(log, "\n=== shoplab deps: starting %s at %s\n", p.name(), time.Now().UTC().Format(time.RFC3339))
	rctx, rcancel := context.WithTimeout(ctx, o.cfg.ReadyTimeout)
	defer rcancel()
	o.progress("%s: starting on %s", p.name(), p.addr())
	pr, err := p.start(rctx, log)
	if err != nil {
		return fail(fmt.Errorf("start: %w%s", err, logTail(st.Log)))
	}
	begin := time.Now()
	if err := waitReady(rctx, p, pr.exited); err != nil {
		// A part that never became ready is stopped again, so no half-started
		// process of ours lingers on the port.
		if pid := pr.pid(); pid > 0 {
			_ = p.stop(context.WithoutCancel(ctx), pid)
		}
		return fail(fmt.Errorf("not ready on %s within %s: %w%s", p.addr(), o.cfg.ReadyTimeout, err, logTail(st.Log)))
	}
	pid := pr.pid()
	if err := writeRecord(p.dir(), record{PID: pid, Marker: p.marker(), Addr: p.addr(), Started: time.Now().UTC()}); err != nil {
		return fail(err)
	}
	o.progress("%s: ready in %.1fs (pid %d)", p.name(), time.Since(begin).Seconds(), pid)
	st.State, st.PID, st.Note = StateStarted, pid, p.note()
	return st
}

// waitReady polls p until it answers, ctx ends or the process exits.
func waitReady(ctx context.Context, p part, exited <-chan struct{}) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		last = p.ready(actx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), last)
		case <-exited:
			return fmt.Errorf("process exited (last probe: %v)", last)
		case <-tick.C:
		}
	}
}

// Status reports each selected part without changing anything.
func (o *Owner) Status(ctx context.Context) []Status {
	out := make([]Status, len(o.parts))
	var wg sync.WaitGroup
	for i, p := range o.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = o.status(ctx, p)
		}()
	}
	wg.Wait()
	return out
}

func (o *Owner) status(ctx context.Context, p part) Status {
	st := Status{Part: p.name(), Addr: p.addr(), Log: logPath(p), State: StateNotRunning}
	rec, ok := o.live(p)
	if !ok {
		if rec.PID != 0 {
			st.Note = fmt.Sprintf("recorded pid %d is gone", rec.PID)
		}
		for _, addr := range p.ports() {
			if portFree(addr) != nil {
				st.Note = strings.TrimPrefix(st.Note+"; ", "; ") + addr + " is taken by a process shoplab did not start"
			}
		}
		return st
	}
	st.PID = rec.PID
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := p.ready(actx); err != nil {
		st.State, st.Err = StateNotAnswering, err
		return st
	}
	st.State, st.Note = StateRunning, p.note()
	return st
}

// Down stops each selected part that we started: SIGTERM, a wait, then
// SIGKILL (PostgreSQL: pg_ctl stop -m fast). A process we did not start is
// never signalled, whatever its port.
func (o *Owner) Down(ctx context.Context) ([]Status, error) {
	out := make([]Status, len(o.parts))
	var wg sync.WaitGroup
	for i, p := range o.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = o.down(ctx, p)
		}()
	}
	wg.Wait()
	return out, joinFailures(out)
}

func (o *Owner) down(ctx context.Context, p part) Status {
	st := Status{Part: p.name(), Addr: p.addr(), Log: logPath(p), State: StateNotRunning}
	rec, ok := o.live(p)
	if !ok {
		if rec.PID != 0 {
			st.Note = fmt.Sprintf("recorded pid %d is not ours any more; left alone", rec.PID)
			_ = removeRecord(p.dir())
		}
		return st
	}
	st.PID = rec.PID
	o.progress("%s: stopping pid %d", p.name(), rec.PID)
	if err := p.stop(ctx, rec.PID); err != nil {
		st.State, st.Err = StateFailed, err
		return st
	}
	if err := removeRecord(p.dir()); err != nil {
		st.State, st.Err = StateFailed, err
		return st
	}
	st.State = StateStopped
	return st
}

// live returns the part's record and whether its process is alive and ours.
func (o *Owner) live(p part) (record, bool) {
	rec, err := readRecord(p.dir())
	if err != nil || rec.PID == 0 {
		return rec, false
	}
	return rec, ours(rec)
}

// Env returns the SHOPLAB_TEST_* variables that point tests at the
// selected parts, in a fixed order; SHOPLAB_TEST_KAFKA_JMX (host:port of
// the broker's JMX exporter) only when the broker runs with it.
func (o *Owner) Env() [][2]string {
	var out [][2]string
	for _, p := range o.parts {
		switch p.name() {
		case Postgres:
			out = append(out, [2]string{"SHOPLAB_TEST_POSTGRES_DSN", p.(*postgresPart).dsn(o.cfg.Spec.PostgresUser, "postgres")})
		case Kafka:
			out = append(out, [2]string{"SHOPLAB_TEST_KAFKA_BROKERS", p.addr()})
			if k := p.(*kafkaPart); k.jmxPort > 0 {
				out = append(out, [2]string{"SHOPLAB_TEST_KAFKA_JMX", k.jmxAddr()})
			}
		case AWS:
			out = append(out, [2]string{"SHOPLAB_TEST_AWS_ENDPOINT", o.cfg.Spec.AWSEndpoint})
		}
	}
	return out
}

func logPath(p part) string { return filepath.Join(p.dir(), "log") }

// portFree says whether addr can be bound, naming it when it cannot.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errs.E(errs.Conflict, "port %s is taken by a process shoplab did not start (%v); stop it or pick another address in the env file", addr, err)
	}
	return ln.Close()
}

// logTail returns the last lines of a log, for an error message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\n--- tail of " + path + "\n" + strings.Join(lines, "\n")
}

// loopbackAddr checks that addr is host:port on a loopback host: the owner
// starts parts on this machine only.
func loopbackAddr(field, addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, errs.InvalidField(field, "%q is not host:port: %v", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", 0, errs.InvalidField(field, "%q is not a loopback address; host parts run on this machine only", addr)
	}
	var n int
	if _, err := fmt.Sscanf(port, "%d", &n); err != nil || n <= 0 || n > 65535 {
		return "", 0, errs.InvalidField(field, "port %q is not a port number", port)
	}
	return host, n, nil
}
