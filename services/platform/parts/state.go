package parts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// record is what <state>/<part>/state.json keeps about a process we started.
type record struct {
	PID     int       `json:"pid"`
	Marker  string    `json:"marker"` // a string its command line contains, so a reused PID is not taken for ours
	Addr    string    `json:"addr"`
	Started time.Time `json:"started"`
}

const recordFile = "state.json"

func readRecord(dir string) (record, error) {
	var r record
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, recordFile), err)
	}
	return r, nil
}

// writeRecord replaces the record atomically, so a crash never leaves half
// a file that would hide a running process.
func writeRecord(dir string, r record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, recordFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, recordFile)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func removeRecord(dir string) error {
	err := os.Remove(filepath.Join(dir, recordFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ours says whether the recorded process is alive and still the one we
// started: its command line must contain the marker.
func ours(r record) bool {
	if r.PID <= 0 || !alive(r.PID) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", r.PID))
	if err != nil {
		return false
	}
	return r.Marker != "" && bytes.Contains(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}), []byte(r.Marker))
}

// alive says whether pid runs; a zombie (exited, not yet reaped by its
// parent, as in a test that started it) counts as gone.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may hold spaces.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
		// A leader shows Z as soon as its own thread exits, while the JVM's
		// other threads still run and hold the sockets: gone only when no
		// thread is left.
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		return err == nil && len(tasks) > 1
	}
	return true
}

// terminate sends SIGTERM to pid, waits up to grace for it to go, then
// sends SIGKILL and waits again.
func terminate(ctx context.Context, pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM pid %d: %w", pid, err)
	}
	if waitGone(ctx, pid, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL pid %d: %w", pid, err)
	}
	if waitGone(ctx, pid, 10*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d still alive after SIGKILL", pid)
}

func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		select {
		case <-ctx.Done():
			return !alive(pid)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return !alive(pid)
}

// proc is a process a part started.
type proc struct {
	exited <-chan struct{} // closed when the started process exits
	// pid returns the PID to record: the started process's by default, or
	// what the part learns later (PostgreSQL's postmaster.pid).
	pid func() int
}

// spawn starts cmd in a session of its own (so the terminal's Ctrl-C of a
// later command does not reach it) with output to log, and reaps it when it
// exits, so a test that started it sees it gone rather than a zombie.
func spawn(cmd *exec.Cmd, log *os.File) (*proc, error) {
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	pid := cmd.Process.Pid
	return &proc{exited: done, pid: func() int { return pid }}, nil
}

// prereq is one program a part needs, and how to install it.
type prereq struct {
	what    string      // e.g. "java (a JRE, 17 or newer)"
	present func() bool // whether it is there now
	install []string    // the command that installs it: argv
	apt     bool        // install takes the dpkg lock
}

func (p *prereq) command() string { return strings.Join(quoteAll(p.install), " ") }

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '[]*&;|$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// ensurePrereqs fails with the install command of each missing prerequisite
// or, with Config.Install, runs it.
func (o *Owner) ensurePrereqs(ctx context.Context, p part) error {
	var missing []string
	for _, pr := range p.prereqs() {
		if pr.present() {
			continue
		}
		if !o.cfg.Install {
			missing = append(missing, fmt.Sprintf("%s is missing; install it with: %s (or run `shoplab deps up --install`)", pr.what, pr.command()))
			continue
		}
		if err := o.install(ctx, p, pr); err != nil {
			return err
		}
		if !pr.present() {
			return fmt.Errorf("%s is still missing after `%s`", pr.what, pr.command())
		}
	}
	if len(missing) > 0 {
		return errors.New(strings.Join(missing, "\n"))
	}
	return nil
}

func (o *Owner) install(ctx context.Context, p part, pr *prereq) error {
	if pr.apt {
		o.apt.Lock()
		defer o.apt.Unlock()
		if pr.present() {
			return nil
		}
	}
	o.progress("%s: installing %s: %s", p.name(), pr.what, pr.command())
	cmd := exec.CommandContext(ctx, pr.install[0], pr.install[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("install %s with `%s`: %w\n%s", pr.what, pr.command(), err, lastLines(string(out), 15))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
