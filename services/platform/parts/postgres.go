package parts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// postgresPart runs a PostgreSQL cluster of its own: initdb once, then the
// postmaster on the env file's address with its unix socket beside the
// data, trust auth (it listens on loopback only), and the env file's role
// and databases created on first readiness.
type postgresPart struct {
	o          *Owner
	host       string
	port       int
	stateDir   string // <state>/postgres: log and record
	bootstrap  string // the superuser initdb creates
	asPostgres bool   // we are root: PostgreSQL refuses to run as root, so it runs as the postgres OS user
	homeOnce   sync.Once
	homeDir    string
}

func newPostgres(o *Owner) (*postgresPart, error) {
	host, port, err := loopbackAddr("postgres.address", o.cfg.Spec.PostgresAddr)
	if err != nil {
		return nil, err
	}
	if o.cfg.Spec.PostgresUser == "" {
		return nil, errs.InvalidField("postgres.user", "empty: name the role to create")
	}
	return &postgresPart{
		o: o, host: host, port: port,
		stateDir:   filepath.Join(o.cfg.StateDir, Postgres),
		bootstrap:  "postgres",
		asPostgres: os.Geteuid() == 0,
	}, nil
}

func (p *postgresPart) name() string    { return Postgres }
func (p *postgresPart) addr() string    { return net.JoinHostPort(p.host, strconv.Itoa(p.port)) }
func (p *postgresPart) ports() []string { return []string{p.addr()} }
func (p *postgresPart) dir() string     { return p.stateDir }
func (p *postgresPart) marker() string  { return p.dataDir() }

// home is where the data directory and the unix socket live: inside the
// state dir, unless we are root and the postgres OS user cannot reach it
// (root's default ~/.cache sits under /root, mode 0700); then a directory
// under /var/tmp named after the state dir, which note reports.
func (p *postgresPart) home() string {
	p.homeOnce.Do(func() {
		p.homeDir = p.stateDir
		if p.asPostgres && !postgresCanReach(p.stateDir) {
			sum := sha256.Sum256([]byte(p.o.cfg.StateDir))
			p.homeDir = filepath.Join("/var/tmp", "shoplab-postgres-"+hex.EncodeToString(sum[:6]))
		}
	})
	return p.homeDir
}

func (p *postgresPart) dataDir() string { return filepath.Join(p.home(), "data") }
func (p *postgresPart) sockDir() string { return p.home() }

func (p *postgresPart) note() string {
	n := "role " + p.o.cfg.Spec.PostgresUser + " is a superuser (local testbed), trust auth on loopback"
	if p.home() != p.stateDir {
		n += "; data in " + p.dataDir() + " (the postgres OS user cannot reach the state dir)"
	}
	return n
}

// postgresCanReach says whether the postgres OS user can traverse to dir:
// the nearest existing ancestor must be searchable by it (what we create
// below it is 0755 or chowned to postgres).
func postgresCanReach(dir string) bool {
	for !fileExists(dir) {
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
	return exec.Command("runuser", "-u", "postgres", "--", "test", "-x", dir).Run() == nil
}

// binDir finds PostgreSQL 15's programs.
func binDir() string {
	const debian = "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(debian, "initdb")); err == nil {
		return debian
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return debian
}

func (p *postgresPart) prereqs() []*prereq {
	install := []string{"sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15"}
	prs := []*prereq{{
		what: "PostgreSQL 15 (initdb, postgres, pg_ctl)",
		present: func() bool {
			return fileExists(filepath.Join(binDir(), "initdb")) && fileExists(filepath.Join(binDir(), "pg_ctl"))
		},
		install: install, apt: true,
	}}
	if p.asPostgres {
		prs = append(prs, &prereq{
			what: "the postgres OS user and runuser",
			present: func() bool {
				_, err := user.Lookup("postgres")
				_, lerr := exec.LookPath("runuser")
				return err == nil && lerr == nil
			},
			install: install, apt: true,
		})
	}
	return prs
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// pgCommand runs a PostgreSQL program, as the postgres OS user when we are root.
func (p *postgresPart) pgCommand(ctx context.Context, prog string, args ...string) *exec.Cmd {
	bin := filepath.Join(binDir(), prog)
	if p.asPostgres {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.CommandContext(ctx, bin, args...)
}

// prepare creates the data directory with initdb once.
func (p *postgresPart) prepare(ctx context.Context) error {
	home := p.home()
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("postgres home: %w", err)
	}
	if p.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			return err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(home, uid, gid); err != nil {
			return fmt.Errorf("chown %s to postgres: %w", home, err)
		}
	}
	if fileExists(filepath.Join(p.dataDir(), "PG_VERSION")) {
		return nil
	}
	p.o.progress("postgres: initdb %s", p.dataDir())
	out, err := p.pgCommand(ctx, "initdb", "-D", p.dataDir(), "-U", p.bootstrap, "-E", "UTF8",
		"--auth-local=trust", "--auth-host=trust", "--no-instructions").CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(p.dataDir()) // a half-made cluster would be skipped next time
		return fmt.Errorf("initdb: %w\n%s", err, lastLines(string(out), 15))
	}
	return nil
}

// start runs the postmaster itself (not pg_ctl start, which detaches it),
// so the PID we record is the server's and an early exit is seen at once.
// As root it runs with the postgres user's credentials.
func (p *postgresPart) start(ctx context.Context, log *os.File) (*proc, error) {
	cmd := exec.Command(filepath.Join(binDir(), "postgres"), "-D", p.dataDir(), "-p", strconv.Itoa(p.port),
		"-k", p.sockDir(), "-c", "listen_addresses="+p.host, "-c", "max_connections=200")
	pr, err := spawnAs(cmd, log, p.asPostgres)
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// spawnAs is spawn, as the postgres OS user when asPostgres.
func spawnAs(cmd *exec.Cmd, log *os.File, asPostgres bool) (*proc, error) {
	if !asPostgres {
		return spawn(cmd, log)
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "HOME="+u.HomeDir, "USER=postgres", "LOGNAME=postgres")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
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

func (p *postgresPart) dsn(role, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: p.addr(), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// ready is a real SELECT 1 as the env file's role. On the first answer it
// creates that role and the databases, so a fresh cluster converges.
func (p *postgresPart) ready(ctx context.Context) error {
	spec := p.o.cfg.Spec
	if err := p.selectOne(ctx, spec.PostgresUser); err == nil {
		return p.ensureDatabases(ctx)
	} else if !isMissingRole(err) {
		return err
	}
	if err := p.exec(ctx, p.bootstrap, "CREATE ROLE "+pgx.Identifier{spec.PostgresUser}.Sanitize()+" SUPERUSER LOGIN"); err != nil {
		return fmt.Errorf("create role %s: %w", spec.PostgresUser, err)
	}
	if err := p.selectOne(ctx, spec.PostgresUser); err != nil {
		return err
	}
	return p.ensureDatabases(ctx)
}

func isMissingRole(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "28000" // invalid_authorization_specification: role does not exist
}

func (p *postgresPart) selectOne(ctx context.Context, role string) error {
	conn, err := pgx.Connect(ctx, p.dsn(role, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

func (p *postgresPart) exec(ctx context.Context, role, sql string) error {
	conn, err := pgx.Connect(ctx, p.dsn(role, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func (p *postgresPart) ensureDatabases(ctx context.Context) error {
	spec := p.o.cfg.Spec
	if !spec.CreateDatabases || len(spec.Databases) == 0 {
		return nil
	}
	conn, err := pgx.Connect(ctx, p.dsn(spec.PostgresUser, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, db := range spec.Databases {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
			return err
		}
		if exists {
			continue
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER "+pgx.Identifier{spec.PostgresUser}.Sanitize()); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42P04" { // duplicate_database: a concurrent up made it
				continue
			}
			return fmt.Errorf("create database %s: %w", db, err)
		}
	}
	return nil
}

// stop is pg_ctl stop -m fast on our data directory; if pg_ctl cannot, the
// recorded postmaster gets SIGTERM then SIGKILL.
func (p *postgresPart) stop(ctx context.Context, pid int) error {
	sctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	out, err := p.pgCommand(sctx, "pg_ctl", "stop", "-m", "fast", "-w", "-t", "30", "-D", p.dataDir()).CombinedOutput()
	if err == nil && waitGone(ctx, pid, 10*time.Second) {
		return nil
	}
	if terr := terminate(ctx, pid, 10*time.Second); terr != nil {
		return fmt.Errorf("pg_ctl stop: %v %s; then: %w", err, strings.TrimSpace(string(out)), terr)
	}
	return nil
}
