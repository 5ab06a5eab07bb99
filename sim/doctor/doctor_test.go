package doctor_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/sim/doctor"
)

// machine is a fake machine: the binaries on PATH, what commands print,
// the busy ports and the free disk.
type machine struct {
	path  map[string]bool
	out   map[string]string // "name arg..." -> output; absent means the command fails
	busy  map[string]bool
	free  uint64
	globs map[string][]string
	files map[string]bool // paths Stat finds
}

func (m machine) probe() doctor.Probe {
	return doctor.Probe{
		LookPath: func(f string) (string, error) {
			if m.path[f] {
				return "/usr/bin/" + f, nil
			}
			return "", errors.New("not found")
		},
		Output: func(_ context.Context, name string, args ...string) (string, error) {
			k := strings.Join(append([]string{name}, args...), " ")
			for pat, o := range m.out {
				if strings.HasPrefix(k, pat) {
					return o, nil
				}
			}
			return "Cannot connect to the Docker daemon", errors.New("exit status 1")
		},
		PortFree:  func(a string) bool { return !m.busy[a] },
		FreeBytes: func(string) (uint64, error) { return m.free, nil },
		Glob:      func(p string) ([]string, error) { return m.globs[p], nil },
		Stat: func(name string) (fs.FileInfo, error) {
			if m.files[filepath.ToSlash(name)] {
				return nil, nil
			}
			return nil, fs.ErrNotExist
		},
	}
}

func goodLocal() machine {
	return machine{
		path: map[string]bool{"go": true, "java": true, "mvn": true, "python3": true, "docker": true, "node": true, "npm": true},
		out: map[string]string{
			"go version":        "go version go1.26.8 linux/amd64",
			"java -version":     `openjdk version "17.0.15" 2025-04-15`,
			"python3 -c import": "5.1.4",
			"node --version":    "v20.20.2\n",
		},
		busy:  map[string]bool{},
		free:  10 << 30,
		globs: map[string][]string{"/usr/lib/postgresql/*/bin/pg_ctl": {"/usr/lib/postgresql/15/bin/pg_ctl"}},
		files: map[string]bool{
			"sim/console/e2e/package.json":                              true,
			"sim/console/e2e/node_modules/playwright-core/package.json": true,
		},
	}
}

func find(t *testing.T, rs []doctor.Result, name string) doctor.Result {
	t.Helper()
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no check %q", name)
	return doctor.Result{}
}

func TestDoctorDecidesPerEnv(t *testing.T) {
	m := goodLocal()
	ctx := context.Background()
	for _, tc := range []struct {
		env string
		fit bool
	}{{"local", true}, {"host", true}, {"compose", false}} {
		rs := doctor.Run(ctx, m.probe(), doctor.DefaultOptions(tc.env))
		if got := doctor.Fit(rs); got != tc.fit {
			t.Errorf("%s: fit = %v, want %v", tc.env, got, tc.fit)
		}
	}
	rs := doctor.Run(ctx, m.probe(), doctor.DefaultOptions("compose"))
	d := find(t, rs, "docker engine")
	if d.Status != doctor.Missing || !d.Required || !strings.Contains(d.Detail, "Cannot connect") {
		t.Errorf("docker engine check: %+v", d)
	}
	// Test tools are reported and never required.
	if p := find(t, rs, "prometheus"); p.Required || p.Status != doctor.Missing || p.Fix != "apt-get install -y prometheus" {
		t.Errorf("prometheus check: %+v", p)
	}
}

func TestDoctorFindsWhatIsWrong(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, env, check, detail, fix string
		mutate                        func(*machine)
	}{
		{"old go", "local", "go", "go1.24 is older than go1.26", "install Go 1.26", func(m *machine) { m.out["go version"] = "go version go1.24.1 linux/amd64" }},
		{"busy port", "local", "port 127.0.0.1:8080", "in use", "--gateway-addr", func(m *machine) { m.busy["127.0.0.1:8080"] = true }},
		{"full disk", "local", "disk", "100 MiB free", "--data-dir", func(m *machine) { m.free = 100 << 20 }},
		{"no java", "host", "java", "not on PATH", "openjdk-17", func(m *machine) { delete(m.path, "java") }},
		{"old java", "host", "java", "Java 11 is older than 17", "openjdk-17", func(m *machine) { m.out["java -version"] = `openjdk version "11.0.2"` }},
		{"no moto", "host", "moto", "cannot import moto.server", "pip install 'moto[server]'", func(m *machine) { delete(m.out, "python3 -c import") }},
		{"no postgres", "host", "postgresql", "no pg_ctl", "apt-get install -y postgresql", func(m *machine) { m.globs = nil }},
		{"no maven", "host", "maven", "not on PATH", "apt-get install -y maven", func(m *machine) { delete(m.path, "mvn") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := goodLocal()
			tc.mutate(&m)
			rs := doctor.Run(ctx, m.probe(), doctor.DefaultOptions(tc.env))
			r := find(t, rs, tc.check)
			if r.Status != doctor.Missing || !strings.Contains(r.Detail, tc.detail) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("%s: %+v", tc.check, r)
			}
			if doctor.Fit(rs) {
				t.Errorf("the %s env is fit with %s broken", tc.env, tc.check)
			}
			var b bytes.Buffer
			doctor.Print(&b, tc.env, rs)
			if !strings.Contains(b.String(), "fix: "+r.Fix) || !strings.Contains(b.String(), "cannot run the "+tc.env+" env") {
				t.Errorf("printout:\n%s", b.String())
			}
		})
	}
	// A missing host part does not make the local env unfit.
	m := goodLocal()
	delete(m.path, "java")
	if !doctor.Fit(doctor.Run(ctx, m.probe(), doctor.DefaultOptions("local"))) {
		t.Error("local is unfit because java is missing")
	}
}

// The console browser test's tools are reported with their fix and never
// make an env unfit.
func TestDoctorChecksTheConsoleTest(t *testing.T) {
	ctx := context.Background()
	m := goodLocal()
	rs := doctor.Run(ctx, m.probe(), doctor.DefaultOptions("local"))
	for _, name := range []string{"node", "npm", "playwright-core"} {
		if r := find(t, rs, name); r.Status != doctor.OK || r.Required {
			t.Errorf("%s on a good machine: %+v", name, r)
		}
	}
	for _, tc := range []struct {
		name, check, detail, fix string
		mutate                   func(*machine)
	}{
		{"no node", "node", "not on PATH", "Node.js 20 or newer", func(m *machine) { delete(m.path, "node") }},
		{"old node", "node", "Node 18 is older than 20", "Node.js 20 or newer", func(m *machine) { m.out["node --version"] = "v18.19.0" }},
		{"node fails", "node", "`node --version` failed", "Node.js 20", func(m *machine) { delete(m.out, "node --version") }},
		{"no npm", "npm", "not on PATH", "apt-get install -y npm", func(m *machine) { delete(m.path, "npm") }},
		{"no npm ci", "playwright-core", "not installed in sim/console/e2e/node_modules", "cd sim/console/e2e && npm ci", func(m *machine) {
			delete(m.files, "sim/console/e2e/node_modules/playwright-core/package.json")
		}},
		{"not the repo", "playwright-core", "not run from the repo root", "repo root", func(m *machine) { m.files = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := goodLocal()
			tc.mutate(&m)
			for _, env := range doctor.Envs[:2] {
				rs := doctor.Run(ctx, m.probe(), doctor.DefaultOptions(env))
				r := find(t, rs, tc.check)
				if r.Status != doctor.Missing || r.Required || !strings.Contains(r.Detail, tc.detail) || !strings.Contains(r.Fix, tc.fix) {
					t.Errorf("%s: %+v", tc.check, r)
				}
				if !doctor.Fit(rs) {
					t.Errorf("the %s env is unfit because %s is missing", env, tc.check)
				}
			}
		})
	}
}

func TestDoctorOnThisMachine(t *testing.T) {
	rs := doctor.Run(context.Background(), doctor.System(), doctor.DefaultOptions("local"))
	if r := find(t, rs, "disk"); r.Status != doctor.OK {
		t.Errorf("disk on this machine: %+v", r)
	}
	if r := find(t, rs, "go"); r.Status != doctor.OK {
		t.Errorf("the go running this test is not found fit: %+v", r)
	}
}
