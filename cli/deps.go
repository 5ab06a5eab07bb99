package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/services/platform/parts"
)

// depsLong is the help of `shoplab deps`.
const depsLong = `Runs the env file's real parts as processes on this machine: PostgreSQL 15,
a Kafka 4.4 broker (KRaft, one node) and moto_server (DynamoDB, S3, SES).
up      starts what is not running yet and waits until each answers
status  reports each part
down    stops only the processes deps up started
With --print-env only the export lines go to stdout (the table goes to
stderr), so:  eval "$(shoplab deps up --print-env)"`

func runDeps(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usageError("deps: no subcommand given")
	}
	sub := args[0]
	if sub != "up" && sub != "status" && sub != "down" {
		return usageError("deps: unknown subcommand %q: want up, status or down", sub)
	}
	fs := e.bridge(flag.NewFlagSet("shoplab deps "+sub, flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	envName := fs.String("env", "host", "env file: a name under envs/ (host) or a path to a YAML file")
	stateDir := fs.String("state-dir", "", "directory for the parts' data, PIDs and logs (default $XDG_CACHE_HOME/shoplab/deps or ~/.cache/shoplab/deps)")
	only := fs.String("only", "", "comma-separated parts to act on: postgres,kafka,aws (default all)")
	printEnv := fs.Bool("print-env", false, "print only the export SHOPLAB_TEST_* lines on stdout (the table goes to stderr)")
	install := fs.Bool("install", false, "run the install command of a missing prerequisite (apt-get, pip) instead of failing with it")
	jmx := fs.Int("kafka-jmx-exporter", 0, "run the broker with the Prometheus JMX exporter agent on this port (0: without it)")
	timeout := fs.Duration("timeout", 90*time.Second, "how long up waits for each part to answer")
	if err := config.Parse(fs, args[1:], e.lookup); err != nil {
		return usageError("%v", err)
	}
	envPath, err := resolveEnvFile(*envName)
	if err != nil {
		return err
	}
	spec, err := loadPartsSpec(envPath)
	if err != nil {
		return err
	}
	dir := *stateDir
	if dir == "" {
		if dir, err = parts.DefaultStateDir(e.lookup); err != nil {
			return err
		}
	}
	var sel []string
	if *only != "" {
		sel = strings.Split(*only, ",")
	}
	table, exports := e.stdout, e.stdout
	if *printEnv {
		table = e.stderr
	}
	o, err := parts.New(parts.Config{
		StateDir: dir, Spec: spec, Only: sel, Install: *install,
		KafkaJMXExporter: *jmx, ReadyTimeout: *timeout, Progress: e.stderr,
	})
	if err != nil {
		return usageError("%v", err)
	}
	var sts []parts.Status
	switch sub {
	case "up":
		sts, err = o.Up(ctx)
	case "status":
		sts = o.Status(ctx)
	case "down":
		sts, err = o.Down(ctx)
	}
	printParts(table, sts)
	if sub != "down" && err == nil {
		for _, kv := range o.Env() {
			fmt.Fprintf(exports, "export %s=%s\n", kv[0], shellQuote(kv[1]))
		}
	}
	return err
}

func printParts(w io.Writer, sts []parts.Status) {
	for _, s := range sts {
		pid := "-"
		if s.PID > 0 {
			pid = fmt.Sprint(s.PID)
		}
		fmt.Fprintf(w, "%-9s %-16s %-16s pid %-8s log %s\n", s.Part, s.Addr, s.State, pid, s.Log)
		if s.Note != "" {
			fmt.Fprintf(w, "          %s\n", s.Note)
		}
		if s.Err != nil && s.State != parts.StateFailed {
			fmt.Fprintf(w, "          %v\n", s.Err)
		}
	}
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// resolveEnvFile turns a name (host) into envs/<name>.yaml, looked for
// from the working directory up to the repo root and beside the binary; a
// value with a slash or a .yaml suffix is a path.
func resolveEnvFile(name string) (string, error) {
	if strings.ContainsRune(name, os.PathSeparator) || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		if _, err := os.Stat(name); err != nil {
			return "", usageError("--env %s: %v", name, err)
		}
		return name, nil
	}
	var roots []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		roots = append(roots, filepath.Dir(exe))
	}
	for _, r := range roots {
		p := filepath.Join(r, "envs", name+".yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", usageError("--env %s: no envs/%s.yaml in the working directory, its parents or beside the binary; pass a path", name, name)
}

// partsEnvFile is the part of an env file deps needs.
// TODO(lead): switch to envs.Load once the envs package is on main.
type partsEnvFile struct {
	Kafka struct {
		Brokers []string `yaml:"brokers"`
	} `yaml:"kafka"`
	Postgres struct {
		Address         string            `yaml:"address"`
		User            string            `yaml:"user"`
		CreateDatabases bool              `yaml:"create_databases"`
		Databases       map[string]string `yaml:"databases"`
	} `yaml:"postgres"`
	AWS struct {
		Region   string `yaml:"region"`
		Endpoint string `yaml:"endpoint"`
	} `yaml:"aws"`
}

func loadPartsSpec(path string) (parts.Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return parts.Spec{}, usageError("--env: %v", err)
	}
	var f partsEnvFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return parts.Spec{}, usageError("%s: %v", path, err)
	}
	spec := parts.Spec{
		PostgresAddr: f.Postgres.Address, PostgresUser: f.Postgres.User, CreateDatabases: f.Postgres.CreateDatabases,
		AWSEndpoint: f.AWS.Endpoint, AWSRegion: f.AWS.Region,
	}
	if len(f.Kafka.Brokers) > 0 {
		spec.KafkaBroker = f.Kafka.Brokers[0]
	}
	for _, db := range f.Postgres.Databases {
		spec.Databases = append(spec.Databases, db)
	}
	return spec, nil
}
