// Package chaosctl is the `shoplab chaos` command: it lists, adds and
// removes faults in a running env through its control API. It lives here,
// next to the engine, so that it is tested with it; cli only adapts it.
package chaosctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// DefaultOpsAddr is where `shoplab up` serves its ops API by default.
const DefaultOpsAddr = "127.0.0.1:8090"

// opsAddrEnv backs --ops-addr, as config.EnvName("ops-addr") would name it.
const opsAddrEnv = "SHOPLAB_OPS_ADDR"

// Env is what the command sees of the world.
type Env struct {
	Stdout, Stderr io.Writer
	Lookup         func(string) (string, bool) // environment variables; nil for none
	Now            func() time.Time            // for "ends in"; nil means time.Now
}

// UsageError is a bad command line (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErr(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Run runs `shoplab chaos <args>`.
func Run(ctx context.Context, env Env, args []string) error {
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return usageErr("chaos: no subcommand given")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "ls":
		return runList(ctx, env, rest)
	case "add":
		return runAdd(ctx, env, rest)
	case "remove", "rm":
		return runRemove(ctx, env, rest)
	case "reset":
		return runReset(ctx, env, rest)
	case "targets":
		return runTargets(ctx, env, rest)
	case "help", "-h", "--help":
		usage(env.Stdout)
		return nil
	}
	usage(env.Stderr)
	return usageErr("chaos: unknown subcommand %q", sub)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: shoplab chaos <subcommand> [flags]

Inject faults into a running `+"`shoplab up`"+` through its ops API.

  list                         the active faults
  add <target> <type> [flags]  inject a fault, e.g.
      shoplab chaos add order->payment latency --latency 400ms --jitter 50ms --for 30s
      shoplab chaos add product kill --for 20s
      shoplab chaos add order->payment grpc_error --code UNAVAILABLE --rate 0.2
  remove <id>...               remove faults
  reset                        remove every fault
  targets                      edges, units, stores and every fault type with its attributes

Every subcommand takes --ops-addr (default `+DefaultOpsAddr+`, or $`+opsAddrEnv+`)
and --api-timeout. Run `+"`shoplab chaos add -h`"+` for the fault flags.
`)
}

// common are the flags every subcommand has.
type common struct {
	opsAddr string
	timeout time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.opsAddr, "ops-addr", DefaultOpsAddr, "address of the env's ops API (env "+opsAddrEnv+")")
	// Not --timeout: that is the timeout toxic's attribute.
	fs.DurationVar(&c.timeout, "api-timeout", 0, "bound on each call to the ops API (default 10s for reads, 90s for changes)")
}

// client builds the control API client; the environment fills in the
// address when the flag was not given.
func (c *common) client(env Env, fs *flag.FlagSet) *chaos.Client {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "ops-addr" })
	if !set && env.Lookup != nil {
		if v, ok := env.Lookup(opsAddrEnv); ok && v != "" {
			c.opsAddr = v
		}
	}
	var opts []chaos.ClientOption
	if c.timeout > 0 {
		opts = append(opts, chaos.WithCallTimeout(c.timeout))
	}
	return chaos.NewClient(c.opsAddr, opts...)
}

func newFlagSet(env Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("shoplab chaos "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses flags wherever they stand among the positional arguments
// (`add order->payment latency --latency 400ms`), which flag.Parse alone
// does not: it stops at the first positional one.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// helpOrErr turns -h into a successful exit.
func helpOrErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func runList(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "list")
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return helpOrErr(err)
	}
	if len(pos) > 0 {
		return usageErr("chaos list takes no arguments, got %q", pos)
	}
	faults, err := c.client(env, fs).Faults(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env.Stdout, map[string]any{"faults": faults})
	}
	if len(faults) == 0 {
		fmt.Fprintln(env.Stdout, "No active faults.")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tTARGET\tSETTINGS\tSTARTED\tENDS")
	for _, af := range faults {
		// toxiproxy keeps no start time for what its own API made.
		started := "-"
		if !af.StartedAt.IsZero() {
			started = af.StartedAt.Format("15:04:05")
		}
		name := af.Fault.Name
		if af.Source != "" {
			name += " (" + af.Source + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", af.ID, name, af.Fault.Type, af.Fault.Target,
			settings(af.Fault), started, ends(af, env.Now()))
	}
	return tw.Flush()
}

// settings summarises what a fault does beyond its type and target.
func settings(f chaos.Fault) string {
	keys := make([]string, 0, len(f.Attributes))
	for k := range f.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+2)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, f.Attributes[k]))
	}
	if f.Toxicity != 0 && f.Toxicity != 1 {
		parts = append(parts, fmt.Sprintf("toxicity=%g", f.Toxicity))
	}
	if f.Direction != "" && f.Direction != "downstream" {
		parts = append(parts, "direction="+f.Direction)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func ends(af chaos.ActiveFault, now time.Time) string {
	if af.EndsAt.IsZero() {
		return "when removed"
	}
	left := af.EndsAt.Sub(now).Round(time.Second)
	if left <= 0 {
		return "now"
	}
	return "in " + left.String()
}

// attrFlags are the fault attributes offered as flags: every attribute of
// every type, hyphenated (average_size -> --average-size).
func attrFlags(fs *flag.FlagSet) map[string]*string {
	// Per attribute, each distinct meaning with the types that share it.
	type meaning struct {
		doc   string
		types []string
	}
	docs := map[string][]*meaning{}
	for _, ti := range chaos.Types() {
		for _, a := range ti.Attributes {
			var m *meaning
			for _, x := range docs[a.Name] {
				if x.doc == a.Doc {
					m = x
				}
			}
			if m == nil {
				m = &meaning{doc: a.Doc}
				docs[a.Name] = append(docs[a.Name], m)
			}
			m.types = append(m.types, ti.Name)
		}
	}
	vals := map[string]*string{}
	for name, ms := range docs {
		flagName := strings.ReplaceAll(name, "_", "-")
		if fs.Lookup(flagName) != nil {
			continue // taken by a command flag; --attr still sets it
		}
		parts := make([]string, len(ms))
		for i, m := range ms {
			parts[i] = strings.Join(m.types, ", ") + ": " + m.doc
		}
		vals[name] = fs.String(flagName, "", strings.Join(parts, "; "))
	}
	return vals
}

type attrList []string

func (a *attrList) String() string     { return strings.Join(*a, ",") }
func (a *attrList) Set(v string) error { *a = append(*a, v); return nil }

func runAdd(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "add")
	var c common
	c.register(fs)
	var f chaos.Fault
	fs.DurationVar(&f.Duration, "for", 0, "remove the fault after this long (default: until removed)")
	fs.Float64Var(&f.Toxicity, "toxicity", 0, "network toxics: chance a connection is affected, 0..1 (default 1)")
	fs.StringVar(&f.Direction, "direction", "", "network toxics: downstream (default), upstream or both")
	fs.StringVar(&f.Name, "name", "", "a label for the fault; it also seeds the fault's random decisions")
	var extra attrList
	fs.Var(&extra, "attr", "another attribute as key=value (repeatable)")
	vals := attrFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: shoplab chaos add <target> <type> [flags]\n\nTypes:")
		for _, ti := range chaos.Types() {
			var names []string
			for _, a := range ti.Attributes {
				n := "--" + strings.ReplaceAll(a.Name, "_", "-")
				if !a.Required {
					n = "[" + n + "]"
				}
				names = append(names, n)
			}
			fmt.Fprintf(fs.Output(), "  %-16s on %s: %s %s\n", ti.Name, ti.Target, ti.Doc, strings.Join(names, " "))
		}
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return helpOrErr(err)
	}
	if len(pos) != 2 {
		return usageErr("chaos add needs <target> <type>, e.g. `chaos add order->payment latency --latency 400ms`; got %q", pos)
	}
	f.Target, f.Type = pos[0], pos[1]
	f.Attributes = map[string]any{}
	fs.Visit(func(fl *flag.Flag) {
		name := strings.ReplaceAll(fl.Name, "-", "_")
		if v, ok := vals[name]; ok {
			f.Attributes[name] = *v
		}
	})
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageErr("--attr %q: want key=value", kv)
		}
		f.Attributes[k] = v
	}
	af, err := c.client(env, fs).Apply(ctx, f)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(env.Stdout, "added %s: %s on %s (%s), %s\n", af.ID, af.Fault.Type, af.Fault.Target, settings(af.Fault), lasting(af, env.Now()))
	return nil
}

func lasting(af chaos.ActiveFault, now time.Time) string {
	switch {
	case af.Fault.Type == chaos.Restart:
		return "done"
	case af.EndsAt.IsZero():
		return "until removed"
	}
	return "for " + af.Fault.Duration.String() + ", ends " + ends(af, now)
}

// explain names the flag or argument behind a field the env refused, so
// "attributes.latency" reads as --latency; the error stays an *errs.Error
// underneath.
func explain(err error) error {
	field := errs.FieldOf(err)
	if field == "" {
		return err
	}
	arg := map[string]string{"duration": "--for", "toxicity": "--toxicity", "direction": "--direction", "name": "--name", "target": "<target>", "type": "<type>"}[field]
	if a, ok := strings.CutPrefix(field, "attributes."); ok {
		arg = "--" + strings.ReplaceAll(a, "_", "-")
	}
	if arg == "" {
		return err
	}
	return &argError{msg: arg + ": " + errs.MessageOf(err), err: err}
}

type argError struct {
	msg string
	err error
}

func (a *argError) Error() string { return a.msg }
func (a *argError) Unwrap() error { return a.err }

func runRemove(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "remove")
	var c common
	c.register(fs)
	ids, err := parse(fs, args)
	if err != nil {
		return helpOrErr(err)
	}
	if len(ids) == 0 {
		return usageErr("chaos remove needs fault ids (see `shoplab chaos list`)")
	}
	cl := c.client(env, fs)
	var errList []error
	for _, id := range ids {
		if err := cl.Remove(ctx, id); err != nil {
			errList = append(errList, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(env.Stdout, "removed %s\n", id)
	}
	return errors.Join(errList...)
}

func runReset(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "reset")
	var c common
	c.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return helpOrErr(err)
	}
	if len(pos) > 0 {
		return usageErr("chaos reset takes no arguments, got %q", pos)
	}
	n, err := c.client(env, fs).Reset(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed %d faults; every edge, unit and store is healthy again\n", n)
	return nil
}

func runTargets(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "targets")
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return helpOrErr(err)
	}
	if len(pos) > 0 {
		return usageErr("chaos targets takes no arguments, got %q", pos)
	}
	t, err := c.client(env, fs).Targets(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env.Stdout, t)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EDGE\tLISTEN\tUPSTREAM\tSTATE\tTOXICS")
	for _, e := range t.Edges {
		state := "up"
		if !e.Enabled {
			state = "DOWN"
		}
		toxics := "-"
		if len(e.Toxics) > 0 {
			toxics = strings.Join(e.Toxics, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Listen, e.Upstream, state, toxics)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	none := func(l []string) string {
		if len(l) == 0 {
			return "-"
		}
		return strings.Join(l, ", ")
	}
	fmt.Fprintf(env.Stdout, "\nunits:       %s\nstores:      %s\ngRPC hooks:  %s\nHTTP hooks:  %s\n\n", none(t.Units), none(t.Stores), none(t.GRPC), none(t.HTTP))
	tw = tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tKIND\tTARGET\tATTRIBUTES (* required)")
	for _, ti := range t.Types {
		var attrs []string
		for _, a := range ti.Attributes {
			s := a.Name
			if a.Required {
				s += "*"
			} else if a.Default != nil {
				s += fmt.Sprintf("=%v", a.Default)
			}
			attrs = append(attrs, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ti.Name, ti.Kind, ti.Target, strings.Join(attrs, " "))
	}
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
