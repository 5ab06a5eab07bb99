// Package doctor checks a machine for what each shoplab env needs and says
// what to do about anything missing: one line per check, ok or missing with
// the command that installs it. The probes (PATH look-ups, commands, port
// binds, disk space) are injected so tests can play any machine.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Envs the doctor knows, in the order of how much a machine needs for them.
var Envs = []string{"local", "host", "compose"}

// Status of one check.
type Status string

// The statuses. A Missing check that is Required for the chosen env makes
// the machine unfit for it; an optional one is reported and no more.
const (
	OK      Status = "ok"
	Missing Status = "missing"
)

// Result is one checked thing.
type Result struct {
	Name     string `json:"name"`
	For      string `json:"for"` // what needs it: an env or a test
	Required bool   `json:"required"`
	Status   Status `json:"status"`
	Detail   string `json:"detail"`        // the version or address found, or what is wrong
	Fix      string `json:"fix,omitempty"` // the command that mends it
}

// Probe is how the doctor looks at the machine.
type Probe struct {
	LookPath func(file string) (string, error)
	// Output runs a command with a deadline and returns its combined output.
	Output func(ctx context.Context, name string, args ...string) (string, error)
	// PortFree reports whether addr can be bound now.
	PortFree func(addr string) bool
	// FreeBytes is the space left on the file system holding dir.
	FreeBytes func(dir string) (uint64, error)
	// Glob finds files (PostgreSQL's versioned bin dirs).
	Glob func(pattern string) ([]string, error)
	// Stat looks at one file (the console test's node_modules).
	Stat func(name string) (fs.FileInfo, error)
}

// System probes this machine.
func System() Probe {
	return Probe{
		LookPath: exec.LookPath,
		Output: func(ctx context.Context, name string, args ...string) (string, error) {
			out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
			return string(out), err
		},
		PortFree: func(addr string) bool {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return false
			}
			_ = ln.Close()
			return true
		},
		FreeBytes: func(dir string) (uint64, error) {
			for {
				var st syscall.Statfs_t
				err := syscall.Statfs(dir, &st)
				if err == nil {
					return st.Bavail * uint64(st.Bsize), nil
				}
				if !errors.Is(err, os.ErrNotExist) || filepath.Dir(dir) == dir {
					return 0, err
				}
				dir = filepath.Dir(dir) // a data dir not made yet: ask its parent
			}
		},
		Glob: filepath.Glob,
		Stat: os.Stat,
	}
}

// Options say what to check.
type Options struct {
	Env      string   // local, host or compose: decides which checks are required
	DataDir  string   // where the units will keep data
	Ports    []string // the addresses `up` binds by default
	MinDisk  uint64   // bytes the data dir needs free
	MinGo    [2]int   // the go toolchain `go run` needs, e.g. {1, 26}
	HostPort []string // the addresses the host parts listen on
	// MinNode is the Node.js major the console browser test needs:
	// playwright-core's engines field in sim/console/e2e/package-lock.json.
	MinNode int
	// ConsoleE2E is the console browser test's npm project, relative to
	// the working directory: the doctor finds it when run from the repo root.
	ConsoleE2E string
}

// DefaultOptions are shoplab's defaults for env.
func DefaultOptions(env string) Options {
	return Options{
		Env:        env,
		DataDir:    os.TempDir(),
		Ports:      []string{"127.0.0.1:8080", "127.0.0.1:8090", "127.0.0.1:8474"},
		MinDisk:    512 << 20,
		MinGo:      [2]int{1, 26},
		HostPort:   []string{"127.0.0.1:15432", "127.0.0.1:19092", "127.0.0.1:15000"},
		MinNode:    20,
		ConsoleE2E: filepath.Join("sim", "console", "e2e"),
	}
}

// needs reports whether env needs what a check is for.
// Every env needs what local needs; host and compose add their own parts;
// the test tools are never required.
func needs(env, forEnv string) bool {
	switch forEnv {
	case "local":
		return true
	case "host", "compose":
		return env == forEnv
	}
	return false
}

// Run runs every check and returns the results in a stable order.
func Run(ctx context.Context, p Probe, o Options) []Result {
	var rs []Result
	add := func(r Result) {
		r.Required = needs(o.Env, r.For)
		rs = append(rs, r)
	}
	add(checkGo(ctx, p, o.MinGo))
	for _, a := range o.Ports {
		r := Result{Name: "port " + a, For: "local", Status: OK, Detail: "free"}
		if !p.PortFree(a) {
			r.Status, r.Detail = Missing, "in use by another process"
			r.Fix = "stop it, or pick other addresses: shoplab up --gateway-addr 127.0.0.1:0 --ops-addr 127.0.0.1:0 --toxiproxy-addr 127.0.0.1:0"
		}
		add(r)
	}
	add(checkDisk(p, o.DataDir, o.MinDisk))

	add(checkPostgres(p))
	add(checkJava(ctx, p))
	add(tool(p, "maven", "host", "mvn", "apt-get install -y maven"))
	add(checkMoto(ctx, p))
	for _, a := range o.HostPort {
		r := Result{Name: "port " + a, For: "host", Status: OK, Detail: "free"}
		if !p.PortFree(a) {
			// Taken is fine when it is our own part: deps status says which.
			r.Detail = "in use (run `shoplab deps status --env host`: if it is not a shoplab part, free the port)"
		}
		add(r)
	}

	add(checkDocker(ctx, p))
	add(checkCompose(ctx, p))

	add(tool(p, "prometheus", "dashboards test", "prometheus", "apt-get install -y prometheus"))
	add(tool(p, "promtool", "dashboards test", "promtool", "apt-get install -y prometheus"))
	add(anyTool(p, "chromium", "console test", []string{"chromium", "chromium-browser"}, "apt-get install -y chromium"))
	add(checkNode(ctx, p, o.MinNode))
	add(tool(p, "npm", "console test", "npm", "apt-get install -y npm (or Node.js's own packages, which bring it)"))
	add(checkPlaywright(p, o.ConsoleE2E))
	add(tool(p, "grpcurl", "gRPC edge test", "grpcurl", "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3"))
	add(anyTool(p, "grpc_health_probe", "gRPC edge test", []string{"grpc_health_probe", "grpc-health-probe"}, "go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.63"))
	add(tool(p, "terraform", "terraform checks", "terraform", "install terraform >= 1.11"))
	add(tool(p, "tflint", "terraform checks", "tflint", "go install github.com/terraform-linters/tflint@v0.64.0"))
	return rs
}

// Fit reports whether every required check passed.
func Fit(rs []Result) bool {
	for _, r := range rs {
		if r.Required && r.Status != OK {
			return false
		}
	}
	return true
}

// Print writes one line per check and a last line with the verdict.
func Print(w io.Writer, env string, rs []Result) {
	var b strings.Builder
	for _, r := range rs {
		need := "optional"
		if r.Required {
			need = "required"
		}
		fmt.Fprintf(&b, "%-8s %-24s %-17s %-8s %s\n", r.Status, r.Name, r.For, need, r.Detail)
		if r.Status != OK && r.Fix != "" {
			fmt.Fprintf(&b, "%-8s %-24s fix: %s\n", "", "", r.Fix)
		}
	}
	if Fit(rs) {
		fmt.Fprintf(&b, "\nThis machine can run the %s env.\n", env)
	} else {
		fmt.Fprintf(&b, "\nThis machine cannot run the %s env yet: mend the required checks above.\n", env)
	}
	_, _ = io.WriteString(w, b.String())
}

func tool(p Probe, name, forWhat, bin, fix string) Result {
	return anyTool(p, name, forWhat, []string{bin}, fix)
}

func anyTool(p Probe, name, forWhat string, bins []string, fix string) Result {
	for _, b := range bins {
		if path, err := p.LookPath(b); err == nil {
			return Result{Name: name, For: forWhat, Status: OK, Detail: path}
		}
	}
	return Result{Name: name, For: forWhat, Status: Missing, Detail: "not on PATH", Fix: fix}
}

var goVersion = regexp.MustCompile(`go(\d+)\.(\d+)`)

func checkGo(ctx context.Context, p Probe, min [2]int) Result {
	r := Result{Name: "go", For: "local", Fix: fmt.Sprintf("install Go %d.%d or newer", min[0], min[1])}
	if _, err := p.LookPath("go"); err != nil {
		r.Status, r.Detail = Missing, "not on PATH (a built shoplab binary runs without it; `go run . demo` needs it)"
		return r
	}
	out, err := runShort(ctx, p, "go", "version")
	m := goVersion.FindStringSubmatch(out)
	if err != nil || m == nil {
		r.Status, r.Detail = Missing, "`go version` failed: "+firstLine(out, err)
		return r
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < min[0] || (major == min[0] && minor < min[1]) {
		r.Status, r.Detail = Missing, fmt.Sprintf("go%d.%d is older than go%d.%d", major, minor, min[0], min[1])
		return r
	}
	r.Status, r.Detail, r.Fix = OK, strings.TrimSpace(out), ""
	return r
}

func checkDisk(p Probe, dir string, min uint64) Result {
	r := Result{Name: "disk", For: "local"}
	free, err := p.FreeBytes(dir)
	switch {
	case err != nil:
		r.Status, r.Detail = Missing, fmt.Sprintf("cannot stat %s: %v", dir, err)
	case free < min:
		r.Status, r.Detail = Missing, fmt.Sprintf("%d MiB free in %s, want %d MiB", free>>20, dir, min>>20)
		r.Fix = "free some space or pass --data-dir on a larger disk"
	default:
		r.Status, r.Detail = OK, fmt.Sprintf("%d MiB free in %s", free>>20, dir)
	}
	return r
}

func checkPostgres(p Probe) Result {
	r := Result{Name: "postgresql", For: "host", Fix: "apt-get install -y postgresql (15 or newer)"}
	if path, err := p.LookPath("pg_ctl"); err == nil {
		r.Status, r.Detail, r.Fix = OK, path, ""
		return r
	}
	if m, _ := p.Glob("/usr/lib/postgresql/*/bin/pg_ctl"); len(m) > 0 {
		r.Status, r.Detail, r.Fix = OK, m[len(m)-1], ""
		return r
	}
	r.Status, r.Detail = Missing, "no pg_ctl on PATH or in /usr/lib/postgresql/*/bin"
	return r
}

var javaVersion = regexp.MustCompile(`version "(\d+)`)

func checkJava(ctx context.Context, p Probe) Result {
	r := Result{Name: "java", For: "host", Fix: "apt-get install -y openjdk-17-jre-headless"}
	if _, err := p.LookPath("java"); err != nil {
		r.Status, r.Detail = Missing, "not on PATH (the Kafka broker and the Flink job run on it)"
		return r
	}
	out, err := runShort(ctx, p, "java", "-version")
	m := javaVersion.FindStringSubmatch(out)
	if err != nil || m == nil {
		r.Status, r.Detail = Missing, "`java -version` failed: "+firstLine(out, err)
		return r
	}
	if v, _ := strconv.Atoi(m[1]); v < 17 {
		r.Status, r.Detail = Missing, fmt.Sprintf("Java %d is older than 17", v)
		return r
	}
	r.Status, r.Detail, r.Fix = OK, firstLine(out, nil), ""
	return r
}

func checkMoto(ctx context.Context, p Probe) Result {
	r := Result{Name: "moto", For: "host", Fix: "python3 -m pip install 'moto[server]'"}
	if _, err := p.LookPath("python3"); err != nil {
		r.Status, r.Detail = Missing, "no python3 on PATH (moto_server is a Python package)"
		return r
	}
	out, err := runShort(ctx, p, "python3", "-c", "import moto, moto.server, werkzeug.serving; print(moto.__version__)")
	if err != nil {
		r.Status, r.Detail = Missing, "python3 cannot import moto.server: "+firstLine(out, err)
		return r
	}
	r.Status, r.Detail, r.Fix = OK, "moto "+strings.TrimSpace(out), ""
	return r
}

var nodeVersion = regexp.MustCompile(`^v(\d+)\.`)

func checkNode(ctx context.Context, p Probe, min int) Result {
	r := Result{Name: "node", For: "console test", Fix: fmt.Sprintf("install Node.js %d or newer (https://nodejs.org; Debian 12's nodejs is 18)", min)}
	if _, err := p.LookPath("node"); err != nil {
		r.Status, r.Detail = Missing, "not on PATH (the browser test runs playwright-core on it)"
		return r
	}
	out, err := runShort(ctx, p, "node", "--version")
	m := nodeVersion.FindStringSubmatch(strings.TrimSpace(out))
	if err != nil || m == nil {
		r.Status, r.Detail = Missing, "`node --version` failed: "+firstLine(out, err)
		return r
	}
	if v, _ := strconv.Atoi(m[1]); v < min {
		r.Status, r.Detail = Missing, fmt.Sprintf("Node %d is older than %d (playwright-core's engines)", v, min)
		return r
	}
	r.Status, r.Detail, r.Fix = OK, "node "+strings.TrimSpace(out), ""
	return r
}

// checkPlaywright looks for playwright-core where the browser test loads
// it from; outside the repo there is nothing to look at, which it says.
func checkPlaywright(p Probe, dir string) Result {
	r := Result{Name: "playwright-core", For: "console test"}
	if _, err := p.Stat(filepath.Join(dir, "package.json")); err != nil {
		r.Status, r.Detail = Missing, fmt.Sprintf("no %s here: not run from the repo root", filepath.Join(dir, "package.json"))
		r.Fix = "run the doctor from the shoplab repo root to check it"
		return r
	}
	mod := filepath.Join(dir, "node_modules", "playwright-core")
	if _, err := p.Stat(filepath.Join(mod, "package.json")); err != nil {
		r.Status, r.Detail = Missing, "not installed in "+filepath.Join(dir, "node_modules")
		r.Fix = "cd " + dir + " && npm ci"
		return r
	}
	r.Status, r.Detail = OK, mod
	return r
}

func checkDocker(ctx context.Context, p Probe) Result {
	r := Result{Name: "docker engine", For: "compose", Fix: "install and start a Docker engine (dockerd); the client alone is not enough"}
	if _, err := p.LookPath("docker"); err != nil {
		r.Status, r.Detail = Missing, "no docker client on PATH"
		return r
	}
	out, err := runShort(ctx, p, "docker", "info", "--format", "{{.ServerVersion}}")
	if err != nil || strings.TrimSpace(out) == "" {
		r.Status, r.Detail = Missing, "the engine does not answer: "+firstLine(out, err)
		return r
	}
	r.Status, r.Detail, r.Fix = OK, "server "+strings.TrimSpace(out), ""
	return r
}

func checkCompose(ctx context.Context, p Probe) Result {
	r := Result{Name: "docker compose", For: "compose", Fix: "install the compose plugin (apt-get install -y docker-compose-plugin)"}
	if _, err := p.LookPath("docker"); err != nil {
		r.Status, r.Detail = Missing, "no docker client on PATH"
		return r
	}
	out, err := runShort(ctx, p, "docker", "compose", "version", "--short")
	if err != nil {
		r.Status, r.Detail = Missing, "no compose plugin: "+firstLine(out, err)
		return r
	}
	r.Status, r.Detail, r.Fix = OK, "compose "+strings.TrimSpace(out), ""
	return r
}

// runShort runs a probe command with a 10 s deadline, so a hung daemon
// makes a check fail instead of the doctor hang.
func runShort(ctx context.Context, p Probe, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return p.Output(ctx, name, args...)
}

func firstLine(out string, err error) string {
	s := strings.TrimSpace(out)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" && err != nil {
		s = err.Error()
	}
	return s
}
