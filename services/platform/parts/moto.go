package parts

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// MotoSerialLauncher serves moto's app on one thread, with two patches
// that keep moto's own costs from setting the platform's throughput:
// python3 -c MotoSerialLauncher HOST PORT. moto_server's own launcher
// serves each request on a thread of its own, and moto evaluates a
// conditional write and applies it without a lock, so two concurrent
// conditional PutItems can both win, which DynamoDB never allows. One
// thread makes moto as atomic as the service it stands in for, so contract
// suites test the adapter instead of moto's races. The file (moto/moto_serial.py)
// says what the patches change and why.
//
//go:embed moto/moto_serial.py
var MotoSerialLauncher string

// MotoInstall is the command that installs moto's server.
const MotoInstall = "python3 -m pip install 'moto[server]'"

// ErrNoMoto says python3 cannot import moto's server.
var ErrNoMoto = errors.New("python3 cannot import moto.server and werkzeug: install with " + MotoInstall)

// MotoCommand returns the command that serves moto on one thread at
// host:port (see MotoSerialLauncher), or ErrNoMoto. The interpreter is
// python3 itself: a moto_server on PATH may be a pyenv shim whose script
// names no interpreter.
func MotoCommand(host string, port int) (*exec.Cmd, error) {
	py, err := motoPython()
	if err != nil {
		return nil, err
	}
	return exec.Command(py, "-c", MotoSerialLauncher, host, strconv.Itoa(port)), nil
}

func motoPython() (string, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return "", ErrNoMoto
	}
	if exec.Command(py, "-c", "import moto.server, werkzeug.serving").Run() != nil {
		return "", ErrNoMoto
	}
	return py, nil
}

// motoPart runs moto_server (DynamoDB, S3, SES) on the env file's
// aws.endpoint, on one thread.
type motoPart struct {
	o        *Owner
	host     string
	port     int
	stateDir string
	http     *http.Client
}

func newMoto(o *Owner) (*motoPart, error) {
	u, err := url.Parse(o.cfg.Spec.AWSEndpoint)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, errs.InvalidField("aws.endpoint", "%q is not an http://host:port URL of an emulator", o.cfg.Spec.AWSEndpoint)
	}
	hostport := u.Host
	if u.Port() == "" {
		hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	host, port, err := loopbackAddr("aws.endpoint", hostport)
	if err != nil {
		return nil, err
	}
	return &motoPart{o: o, host: host, port: port, stateDir: filepath.Join(o.cfg.StateDir, AWS), http: &http.Client{Timeout: 3 * time.Second}}, nil
}

func (m *motoPart) name() string     { return AWS }
func (m *motoPart) addr() string     { return net.JoinHostPort(m.host, strconv.Itoa(m.port)) }
func (m *motoPart) ports() []string  { return []string{m.addr()} }
func (m *motoPart) dir() string      { return m.stateDir }
func (m *motoPart) script() string   { return filepath.Join(m.stateDir, "moto_serial.py") }
func (m *motoPart) marker() string   { return m.script() }
func (m *motoPart) note() string     { return "moto_server, one thread (DynamoDB, S3, SES)" }
func (m *motoPart) endpoint() string { return "http://" + m.addr() }

func (m *motoPart) prereqs() []*prereq {
	return []*prereq{{
		what:    "moto's server for python3",
		present: func() bool { _, err := motoPython(); return err == nil },
		install: []string{"python3", "-m", "pip", "install", "moto[server]"},
	}}
}

// prepare writes the launcher into the state dir: run from there, its path
// on the command line tells our process from any other python3.
func (m *motoPart) prepare(context.Context) error {
	return os.WriteFile(m.script(), []byte(MotoSerialLauncher), 0o644)
}

func (m *motoPart) start(_ context.Context, log *os.File) (*proc, error) {
	py, err := motoPython()
	if err != nil {
		return nil, err
	}
	return spawn(exec.Command(py, m.script(), m.host, strconv.Itoa(m.port)), log)
}

// ready is moto's own API answering 200.
func (m *motoPart) ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint()+"/moto-api/", nil)
	if err != nil {
		return err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /moto-api/: %s", resp.Status)
	}
	return nil
}

func (m *motoPart) stop(ctx context.Context, pid int) error {
	return terminate(ctx, pid, 10*time.Second)
}
