// Package flink runs the Flink SQL analytics job (orders.sql, the single
// source of truth, embedded here) from Go: it builds the Maven module,
// starts the launcher as a child JVM (an in-process MiniCluster), feeds it
// bounded replays, and reads its results back as events.WindowResult.
// shoplab's host env starts it instead of the Go engine with Start; the
// differential tests and `shoplab analytics replay` use Server.
package flink

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// SQL is orders.sql, the job.
//
//go:embed orders.sql
var SQL []byte

// jarName is what `mvn package` builds in target/.
const jarName = "shoplab-analytics-flink-1.0.0.jar"

// launcherClass is the launcher's main class.
const launcherClass = "dev.shoplab.analytics.Launcher"

// JobConfig is one run of the job.
type JobConfig struct {
	Brokers     []string
	InputTopic  string // OrderPlaced events
	OutputTopic string // window results (late_events left 0; see Merge)
	LateTopic   string // late events with the watermark that judged them
	Group       string // default analytics-flink

	Window         time.Duration // default 1 min
	OutOfOrderness time.Duration // default 5 s
	// IdleTimeout marks a quiet partition idle; zero means the window size
	// (the Go engine's default), negative disables it.
	IdleTimeout time.Duration
	StateTTL    time.Duration // dedup state, processing time; default 30 min

	// FromEarliest reads the input from its start instead of the group's
	// committed offsets; Bounded stops at the offsets current at job start
	// and closes every open window then (the final watermark).
	FromEarliest bool
	Bounded      bool
}

func (c JobConfig) vars() ([]string, error) {
	switch {
	case len(c.Brokers) == 0:
		return nil, errs.InvalidField("brokers", "required")
	case c.InputTopic == "":
		return nil, errs.InvalidField("input_topic", "required")
	case c.OutputTopic == "":
		return nil, errs.InvalidField("output_topic", "required")
	case c.LateTopic == "":
		return nil, errs.InvalidField("late_topic", "required")
	}
	w := c.Window
	if w == 0 {
		w = time.Minute
	}
	d := c.OutOfOrderness
	if d == 0 {
		d = 5 * time.Second
	}
	if w < time.Millisecond || w%time.Millisecond != 0 {
		return nil, errs.InvalidField("window", "must be a positive whole number of milliseconds, got %s", w)
	}
	if d < 0 || d%time.Millisecond != 0 {
		return nil, errs.InvalidField("out_of_orderness", "must be a non-negative whole number of milliseconds, got %s", d)
	}
	idle := c.IdleTimeout
	switch {
	case idle == 0:
		idle = w
	case idle < 0:
		idle = 0 // Flink: 0 disables idleness
	}
	ttl := c.StateTTL
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	group := c.Group
	if group == "" {
		group = "analytics-flink"
	}
	startup, bounded := "group-offsets", "unbounded"
	if c.FromEarliest {
		startup = "earliest-offset"
	}
	if c.Bounded {
		bounded = "latest-offset"
	}
	for name, v := range map[string]string{"input_topic": c.InputTopic, "output_topic": c.OutputTopic, "late_topic": c.LateTopic, "group": group} {
		if strings.ContainsAny(v, " \t\n'=") {
			return nil, errs.InvalidField(name, "must not contain spaces, quotes or '=', got %q", v)
		}
	}
	return []string{
		"brokers=" + strings.Join(c.Brokers, ","),
		"input_topic=" + c.InputTopic,
		"output_topic=" + c.OutputTopic,
		"late_topic=" + c.LateTopic,
		"group_id=" + group,
		"window_ms=" + strconv.FormatInt(w.Milliseconds(), 10),
		"out_of_orderness_ms=" + strconv.FormatInt(d.Milliseconds(), 10),
		"idle_timeout=" + strconv.FormatInt(idle.Milliseconds(), 10) + "ms",
		"state_ttl=" + strconv.FormatInt(ttl.Milliseconds(), 10) + "ms",
		"startup_mode=" + startup,
		"bounded_mode=" + bounded,
	}, nil
}

// Runtime is where the job is built and how the JVM runs.
type Runtime struct {
	// ModuleDir is services/analytics/flink (the pom.xml); empty: found
	// from the working directory upwards.
	ModuleDir string
	// MaxHeap is the JVM's -Xmx; default 768m.
	MaxHeap string
	// PrometheusPort, if set, exposes Flink's metrics for Prometheus.
	PrometheusPort int
	// Log receives the JVM's stderr; nil discards it.
	Log io.Writer
	// SQLFile runs this job file instead of the embedded orders.sql (to try
	// a change without rebuilding the caller).
	SQLFile string
}

// ErrNoToolchain is returned when java or mvn is not installed.
var ErrNoToolchain = errors.New("the Flink job needs java (17+) and mvn on PATH: apt-get install openjdk-17-jdk-headless maven")

// FindModuleDir looks for services/analytics/flink/pom.xml from dir upwards.
func FindModuleDir(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		for _, c := range []string{d, filepath.Join(d, "services", "analytics", "flink")} {
			if _, err := os.Stat(filepath.Join(c, "pom.xml")); err == nil {
				if _, err := os.Stat(filepath.Join(c, "orders.sql")); err == nil {
					return c, nil
				}
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("services/analytics/flink/pom.xml not found above %s: run from the shoplab repository", dir)
		}
	}
}

// Build builds the job with Maven unless target/ is newer than the pom,
// the SQL and the Java sources, and returns the java classpath.
func (r Runtime) Build(ctx context.Context) (string, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return "", ErrNoToolchain
	}
	dir := r.ModuleDir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		if dir, err = FindModuleDir(wd); err != nil {
			return "", err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	jar := filepath.Join(dir, "target", jarName)
	cp := jar + string(os.PathListSeparator) + filepath.Join(dir, "target", "lib", "*")
	if fresh(dir, jar) {
		return cp, nil
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return "", ErrNoToolchain
	}
	cmd := exec.CommandContext(ctx, "mvn", "-B", "-q", "package", "-DskipTests")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the Flink job (mvn package in %s): %w\n%s", dir, err, out)
	}
	return cp, nil
}

// fresh reports whether jar is newer than every input of the build.
func fresh(dir, jar string) bool {
	st, err := os.Stat(jar)
	if err != nil {
		return false
	}
	newer := false
	check := func(p string, info os.FileInfo) {
		if info.ModTime().After(st.ModTime()) {
			newer = true
		}
	}
	for _, f := range []string{"pom.xml", "orders.sql"} {
		if info, err := os.Stat(filepath.Join(dir, f)); err == nil {
			check(f, info)
		}
	}
	_ = filepath.Walk(filepath.Join(dir, "src"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			check(p, info)
		}
		return nil
	})
	return !newer
}

func (r Runtime) command(ctx context.Context, cp string, args ...string) *exec.Cmd {
	heap := r.MaxHeap
	if heap == "" {
		heap = "768m"
	}
	argv := []string{"-Xmx" + heap, "-cp", cp, launcherClass}
	if r.PrometheusPort > 0 {
		argv = append(argv, "--prometheus-port", strconv.Itoa(r.PrometheusPort))
	}
	cmd := exec.CommandContext(ctx, "java", append(argv, args...)...)
	cmd.Dir = os.TempDir()
	// SIGTERM first: the JVM's shutdown hooks stop the MiniCluster.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 8 * time.Second
	cmd.Stderr = r.Log
	if r.Log == nil {
		cmd.Stderr = io.Discard
	}
	dieWithParent(cmd)
	return cmd
}

// sqlFile writes the embedded orders.sql to a temporary file, so the job
// that runs is the one this binary was built with.
func (r Runtime) sqlFile() (string, func(), error) {
	if r.SQLFile != "" {
		return r.SQLFile, func() {}, nil
	}
	f, err := os.CreateTemp("", "shoplab-orders-*.sql")
	if err != nil {
		return "", nil, err
	}
	if _, err := f.Write(SQL); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", nil, err
	}
	f.Close()
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// Job is the streaming job running in its own JVM.
type Job struct {
	cmd       *exec.Cmd
	cancel    context.CancelFunc
	cleanup   func()
	done      chan struct{}
	err       error
	submitted chan struct{}
	closeOnce sync.Once
}

// Start builds the job if needed and runs it until Close or ctx ends:
// the unbounded job of the host env, reading c.InputTopic from the group's
// offsets.
func Start(ctx context.Context, r Runtime, c JobConfig) (*Job, error) {
	vars, err := c.vars()
	if err != nil {
		return nil, err
	}
	cp, err := r.Build(ctx)
	if err != nil {
		return nil, err
	}
	path, cleanup, err := r.sqlFile()
	if err != nil {
		return nil, err
	}
	args := []string{"--sql", path}
	for _, v := range vars {
		args = append(args, "--set", v)
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := r.command(cctx, cp, args...)
	j := &Job{cancel: cancel, cleanup: cleanup, done: make(chan struct{}), submitted: make(chan struct{})}
	// The launcher logs "submitted job <id>" once the statement set runs:
	// the job's readiness, as far as the JVM can say it.
	cmd.Stderr = io.MultiWriter(cmd.Stderr, &lineWatch{want: "submitted job ", found: func() { close(j.submitted) }})
	j.cmd = cmd
	if err := cmd.Start(); err != nil {
		cancel()
		cleanup()
		return nil, fmt.Errorf("start the Flink job: %w", err)
	}
	go func() {
		j.err = cmd.Wait()
		close(j.done)
	}()
	return j, nil
}

// Submitted is closed once the launcher has submitted the job.
func (j *Job) Submitted() <-chan struct{} { return j.submitted }

// WaitSubmitted waits until the job is submitted, the JVM exits or ctx
// ends, whichever is first.
func (j *Job) WaitSubmitted(ctx context.Context) error {
	select {
	case <-j.submitted:
		return nil
	case <-j.done:
		return fmt.Errorf("the Flink launcher exited before submitting the job: %v", j.err)
	case <-ctx.Done():
		return fmt.Errorf("the Flink job was not submitted in time: %w", ctx.Err())
	}
}

// lineWatch calls found once, on the first line holding want.
type lineWatch struct {
	want  string
	found func()
	buf   []byte
	done  bool
}

func (w *lineWatch) Write(p []byte) (int, error) {
	if w.done {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		if strings.Contains(string(w.buf[:i]), w.want) {
			w.done, w.buf = true, nil
			w.found()
			return len(p), nil
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64*1024 { // a line that long is not the one
		w.buf = w.buf[len(w.buf)-len(w.want):]
	}
	return len(p), nil
}

// Done is closed when the JVM has exited; Err then says why.
func (j *Job) Done() <-chan struct{} { return j.done }

// Err is the JVM's exit error once Done is closed.
func (j *Job) Err() error {
	select {
	case <-j.done:
		return j.err
	default:
		return nil
	}
}

// Close stops the job and waits for the JVM to exit.
func (j *Job) Close() error {
	j.cancel()
	<-j.done
	j.closeOnce.Do(j.cleanup)
	return nil
}

// Server is one JVM that runs bounded jobs one after another, so the
// JVM and planner start-up is paid once.
type Server struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	cleanup func()
	stdin   io.WriteCloser
	lines   chan string
	mu      sync.Mutex
}

// StartServer builds the job if needed and starts a serving JVM.
func StartServer(ctx context.Context, r Runtime) (*Server, error) {
	cp, err := r.Build(ctx)
	if err != nil {
		return nil, err
	}
	path, cleanup, err := r.sqlFile()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	cmd := r.command(cctx, cp, "--sql", path, "--serve")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		cleanup()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		cleanup()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		cleanup()
		return nil, fmt.Errorf("start the Flink launcher: %w", err)
	}
	s := &Server{cmd: cmd, cancel: cancel, cleanup: cleanup, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	if _, err := s.await(ctx, "READY"); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) await(ctx context.Context, want string) (string, error) {
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return "", errors.New("the Flink launcher exited (see its log)")
			}
			if l == want {
				return l, nil
			}
			if rest, ok := strings.CutPrefix(l, "FAILED"); ok {
				return "", fmt.Errorf("flink job failed:%s", rest)
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Run runs one bounded job (c.Bounded and c.FromEarliest are implied) and
// returns when it has finished, so its outputs are complete.
func (s *Server) Run(ctx context.Context, c JobConfig) error {
	c.Bounded, c.FromEarliest = true, true
	vars, err := c.vars()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.stdin, strings.Join(vars, " ")+"\n"); err != nil {
		return fmt.Errorf("send the job to the Flink launcher: %w", err)
	}
	_, err = s.await(ctx, "DONE")
	if err != nil && ctx.Err() != nil {
		// The launcher is still busy with this job; it is of no further use.
		s.Close()
	}
	return err
}

// Close stops the JVM.
func (s *Server) Close() error {
	s.stdin.Close()
	s.cancel()
	_ = s.cmd.Wait()
	s.cleanup()
	return nil
}
