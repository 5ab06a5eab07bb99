package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shoplab/shoplab/chaos/chaosctl"
)

// The command tree is cobra's; the commands stay as they were written for
// the flag package. Each calls e.bridge on its *flag.FlagSet, and the tree
// learns every flag by running the command up to its flag parsing once
// (with -h, output discarded). pflag then parses the real command line
// (flags anywhere, --help, suggestions, completion) and the command runs
// with a command line the flag package reads unchanged: the flags the user
// gave, in order, as --name=value, then "--" and the arguments. Its own
// config.Parse therefore still fills each flag not given from SHOPLAB_*.

// shape is what cobra shows of a command of commands() and how it calls it.
type shape struct {
	use  string // the arguments after the name in the usage line
	long string
	args cobra.PositionalArgs // nil: the command checks its own arguments
	// subs are the words the command's run function takes before its flags
	// (serve <unit>, hpa check, ...); cobra lists and completes them.
	subs []subcommand
}

type subcommand struct {
	name    string
	aliases []string
	use     string
	short   string
	long    string
	example string
	args    cobra.PositionalArgs
}

const envNote = `Every flag not given on the command line is read from SHOPLAB_<FLAG>
(--kafka-brokers from SHOPLAB_KAFKA_BROKERS, --ops-addr from SHOPLAB_OPS_ADDR).`

// shapes lists every command that bridges its flags. A command missing
// here still runs, with its arguments passed through unparsed (and its
// --help not shown by cobra): TestHelpEveryCommand fails until it is added.
var shapes = map[string]shape{
	"probe": {args: cobra.NoArgs, long: "The container healthcheck (the image is distroless: no shell, no curl): exits 0 when --url answers 2xx within --timeout, 1 otherwise."},
	"up": {args: cobra.NoArgs, long: `Runs every unit in one process on the embedded local env (kfake Kafka, SQLite,
gofakes3, toxiproxy), or on a real env's parts with --env host. Prints the
addresses, then serves until Ctrl-C.

` + envNote},
	"run": {use: "<scenario.yaml>...", long: `Runs scenario files and prints their verdicts: exit 0 when every scenario
passes, 1 when one fails, 2 for an invalid file or a bad command line. With
--check-expect a scenario passes when its verdict equals its expect (how CI
runs the library).

` + envNote},
	"demo": {args: cobra.NoArgs, long: `Starts the local env (or, with --env host, the units on the parts of
shoplab deps up), drives the demo scenario (slow payments, then a product
crash), reconciles and prints a verdict in plain words. Exit 0 only when
every probe and invariant holds.`},
	"serve": {long: `Runs one unit as its own process, as the containers and the Kubernetes
Deployments do. The defaults match the container ports the manifests expose.

` + envNote, subs: []subcommand{
		{name: "gateway", args: cobra.NoArgs, short: "the REST API (needs --jwt-key)"},
		{name: "user", args: cobra.NoArgs, short: "accounts and sign-in (gRPC)"},
		{name: "product", args: cobra.NoArgs, short: "catalog and stock (gRPC; SQLite or DynamoDB)"},
		{name: "order", args: cobra.NoArgs, short: "orders and their outbox to Kafka (gRPC)"},
		{name: "payment", args: cobra.NoArgs, short: "the card processor (gRPC)"},
		{name: "notification", args: cobra.NoArgs, short: "one email per placed order (Kafka consumer; mailbox or SES)"},
		{name: "analytics", args: cobra.NoArgs, short: "tumbling windows over the orders topic (Kafka consumer; S3 archive)"},
	}},
	"lambda": {long: "Runs a unit under the AWS Lambda runtime, as the AWS deployment does.", subs: []subcommand{
		{name: "notification", args: cobra.NoArgs, short: "the notification unit as a Lambda handler of the orders topic",
			long: "Runs inside AWS Lambda (or its runtime interface emulator): AWS_LAMBDA_RUNTIME_API must be set.\nLocally use `shoplab serve notification` or `shoplab up`.\n\n" + envNote},
	}},
	"hpa": {long: hpaLong, subs: []subcommand{
		{name: "replay", use: "<trace.json|yaml>", short: "replay one HPA against a recorded demand; JSON steps on stdout", long: hpaReplayLong},
		{name: "simulate", use: "<scenario.yaml>", short: "simulate the overlay's Deployments under a scenario's load", long: hpaSimulateLong},
		{name: "check", use: "[scenario.yaml|dir...]", short: "simulate every scenario with an hpa: section and check it", long: hpaCheckLong},
	}},
	"chaos": {long: "Injects faults into a running `shoplab up` through its ops API.\n\n" +
		"Every subcommand takes --ops-addr (default 127.0.0.1:8090, or $SHOPLAB_OPS_ADDR) and --api-timeout.", subs: []subcommand{
		{name: "list", aliases: []string{"ls"}, short: "the active faults"},
		{name: "add", use: "<target> <type>", short: "inject a fault", long: "Injects a fault on a target (an edge such as order->payment, a unit or a store).\n\nTypes:\n" + chaosctl.TypeList(),
			example: "  shoplab chaos add order->payment latency --latency 400ms --jitter 50ms --for 30s\n" +
				"  shoplab chaos add product kill --for 20s\n" +
				"  shoplab chaos add order->payment grpc_error --code UNAVAILABLE --rate 0.2"},
		{name: "remove", aliases: []string{"rm"}, use: "<id>...", short: "remove faults"},
		{name: "reset", short: "remove every fault"},
		{name: "targets", short: "edges, units, stores and every fault type with its attributes"},
	}},
	"k6": {use: "<scenario.yaml> | --all", long: k6Long},
	"analytics": {long: "Replays OrderPlaced events through an analytics engine.", subs: []subcommand{
		{name: "replay", use: "events.jsonl", short: "feed a file of OrderPlaced events through the go or flink engine", long: analyticsLong},
	}},
	"bench":  {args: cobra.NoArgs, long: "Measures throughput, latency and memory next to baselines measured in the same\nrun, as a table and JSON. Exit 1 only when a figure could not be measured.\n\n" + envNote},
	"diff":   {use: "<run-dir-or-bundle> <baseline-run-dir-or-bundle>", long: "Compares a run with a baseline run: exit 0 when nothing regressed beyond the\ntolerances, 1 when something did, 2 for a bad command line or unreadable runs.\nWith --html FILE it also writes the run's report with the baseline's curves\noverlaid and the comparison at the top.\n\n" + envNote},
	"doctor": {args: cobra.NoArgs, long: "Checks this machine for what an env needs: exit 0 when it can run the env, 1\nwhen a required check fails.\n\n" + envNote},
	"deps": {long: depsLong + "\n\n" + envNote, subs: []subcommand{
		{name: "up", args: cobra.NoArgs, short: "start what is not running yet and wait until each part answers"},
		{name: "status", args: cobra.NoArgs, short: "report each part"},
		{name: "down", args: cobra.NoArgs, short: "stop only the processes deps up started"},
	}},
	"calibrate": {long: calibrateLong + "\n" + envNote},
	"terraform": {long: "Bridges terraform outputs into the env files.", subs: []subcommand{
		{name: "env", args: cobra.NoArgs, short: "write envs/aws-<env>.yaml addresses from `terraform output -json`"},
	}},
}

// collector receives the flag set of a command run to learn its flags.
type collector struct{ fs *flag.FlagSet }

// bridge hands a command's flag set to the cobra tree and returns it. A
// command calls it where it creates the set, and must not act before it
// parses its flags: the tree runs it up to there to learn them.
func (e env) bridge(fs *flag.FlagSet) *flag.FlagSet {
	if e.collect != nil && e.collect.fs == nil {
		e.collect.fs = fs
	}
	return fs
}

// learnFlags runs a command with -h and no output to get its flag set.
func learnFlags(ctx context.Context, run func(context.Context, env, []string) error, prefix []string) *flag.FlagSet {
	c := &collector{}
	probe := env{stdout: io.Discard, stderr: io.Discard, lookup: func(string) (string, bool) { return "", false }, collect: c}
	_ = run(ctx, probe, append(slices.Clone(prefix), "-h"))
	return c.fs
}

// given records the flags pflag sets, in order, to pass them on.
type given struct{ pairs [][2]string }

// recorded is a Go flag's value as pflag sees it: setting it records the
// text for the real run and checks it on the learning run's value, so a
// bad value is a usage error before anything runs.
type recorded struct {
	inner flag.Value
	name  string
	log   *given
}

func (r *recorded) String() string { return r.inner.String() }
func (r *recorded) Set(v string) error {
	if err := r.inner.Set(v); err != nil {
		return err
	}
	r.log.pairs = append(r.log.pairs, [2]string{r.name, v})
	return nil
}

// Type names the value in help as the flag package would.
func (r *recorded) Type() string {
	t := reflect.TypeOf(r.inner)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := strings.TrimSuffix(t.Name(), "Value")
	switch name {
	case "string", "bool", "int", "int64", "uint", "uint64", "float64", "duration":
		return name
	}
	return "value"
}

func (r *recorded) IsBoolFlag() bool {
	b, ok := r.inner.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// addGoFlags puts every flag of fs on cmd, recording what the user sets.
func addGoFlags(cmd *cobra.Command, fs *flag.FlagSet, log *given) {
	fs.VisitAll(func(f *flag.Flag) {
		g := *f
		g.Value = &recorded{inner: f.Value, name: f.Name, log: log}
		pf := pflag.PFlagFromGoFlag(&g)
		pf.DefValue = f.DefValue
		if pf.DefValue == "0s" {
			pf.DefValue = "0" // pflag leaves a zero default out of help only so
		}
		// The usages quote code in backquotes, which pflag would show as
		// the value's name ("--bundle shoplab diff").
		pf.Usage = strings.ReplaceAll(f.Usage, "`", "'")
		cmd.Flags().AddFlag(pf)
	})
}

// commandLine is what the bridged run function parses: the subcommand
// words, the flags given and, after "--", the arguments.
func commandLine(prefix []string, log *given, args []string) []string {
	out := slices.Clone(prefix)
	for _, p := range log.pairs {
		out = append(out, "--"+p[0]+"="+p[1])
	}
	if len(args) > 0 {
		out = append(append(out, "--"), args...)
	}
	return out
}

// newRoot builds the command tree. ran is set once a command's own run
// function starts, so an error before it is a usage error (exit 2).
func newRoot(ctx context.Context, e env, ran *bool) *cobra.Command {
	root := &cobra.Command{
		Use:   "shoplab",
		Short: "a local-first simulation and chaos testbed for an e-commerce platform",
		Long: `shoplab: a local-first simulation and chaos testbed for an e-commerce platform.

Flags go before or after the arguments, written --name or -name.
` + envNote + `
Exit status: 0 pass, 1 fail, 2 a bad command line or an invalid file.
Shell completion: source <(shoplab completion bash), or zsh, fish.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(e.stderr)
			_ = cmd.Help()
			return usageError("no command given")
		},
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(flagErrorWithSuggestions)
	root.SuggestionsMinimumDistance = 2

	for name, c := range commands() {
		s, bridged := shapes[name]
		short, _, _ := strings.Cut(c.summary, ": ")
		cmd := &cobra.Command{Use: strings.TrimSpace(name + " " + s.use), Short: short, Long: s.long}
		switch {
		case !bridged:
			cmd.Long = c.summary
			cmd.DisableFlagParsing = true
			cmd.RunE = passThrough(e, c.run, ran)
		case len(s.subs) == 0:
			bridgedLeaf(ctx, e, cmd, c.run, nil, s.args, ran)
		default:
			asParent(e, cmd)
			for _, sub := range s.subs {
				leaf := &cobra.Command{Use: strings.TrimSpace(sub.name + " " + sub.use), Aliases: sub.aliases,
					Short: sub.short, Long: sub.long, Example: sub.example}
				bridgedLeaf(ctx, e, leaf, c.run, []string{sub.name}, sub.args, ran)
				cmd.AddCommand(leaf)
			}
		}
		root.AddCommand(cmd)
	}
	// cobra's own completion command would show its help, exit 0, for an
	// unknown shell.
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		asParent(e, c)
	}
	return root
}

// asParent makes cmd a command of subcommands: alone it shows its help and
// exits 2, with "help" it shows its help, and an unknown subcommand is a
// usage error with the near names.
func asParent(e env, cmd *cobra.Command) {
	cmd.Args = subcommandArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 { // help
			return cmd.Help()
		}
		cmd.SetOut(e.stderr)
		_ = cmd.Help()
		return usageError("%s: no subcommand given", cmd.Name())
	}
	cmd.SuggestionsMinimumDistance = 2
}

func bridgedLeaf(ctx context.Context, e env, cmd *cobra.Command, run func(context.Context, env, []string) error, prefix []string, args cobra.PositionalArgs, ran *bool) {
	fs := learnFlags(ctx, run, prefix)
	if fs == nil {
		cmd.DisableFlagParsing = true
		cmd.RunE = passThrough(e, func(ctx context.Context, e env, args []string) error {
			return run(ctx, e, append(slices.Clone(prefix), args...))
		}, ran)
		return
	}
	log := &given{}
	addGoFlags(cmd, fs, log)
	cmd.Args = args
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		*ran = true
		return run(cmd.Context(), e, commandLine(prefix, log, args))
	}
}

func passThrough(e env, run func(context.Context, env, []string) error, ran *bool) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		*ran = true
		return run(cmd.Context(), e, args)
	}
}

// subcommandArgs refuses an unknown subcommand with the near names;
// "help" shows the command's help.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 || (len(args) == 1 && args[0] == "help") {
		return nil
	}
	return fmt.Errorf("unknown command %q for %q%s", args[0], cmd.CommandPath(), didYouMean(cmd.SuggestionsFor(args[0])))
}

func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "\n\nDid you mean this?\n\t" + strings.Join(names, "\n\t") + "\n"
}

// flagErrorWithSuggestions adds the near flag names to an unknown flag.
func flagErrorWithSuggestions(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	var near []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (editDistance(strings.ToLower(name), strings.ToLower(f.Name)) <= 2 || (len(name) > 1 && strings.HasPrefix(f.Name, name))) {
			near = append(near, "--"+f.Name)
		}
	})
	return fmt.Errorf("%w%s", err, didYouMean(near))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// longFlags rewrites the flag package's single-dash long flags (-short,
// -env=host) as --short, --env=host, so command lines written for it keep
// working; pflag would read -short as -s -h -o -r -t. A flag's value and
// everything after "--" stay as given, and so do "-" and negative numbers.
func longFlags(root *cobra.Command, args []string) []string {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		return args
	}
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		cmd = root
	}
	takesValue := func(f *pflag.Flag) bool { return f != nil && f.NoOptDefVal == "" }
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && !strings.ContainsRune("0123456789.", rune(a[1])) {
			a = "-" + a
		}
		out = append(out, a)
		var f *pflag.Flag
		switch {
		case strings.HasPrefix(a, "--") && !strings.Contains(a, "="):
			f = cmd.Flags().Lookup(a[2:])
		case len(a) == 2 && a[0] == '-':
			f = cmd.Flags().ShorthandLookup(a[1:])
		}
		if takesValue(f) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// execute runs args (without the program name) through the tree.
func execute(ctx context.Context, e env, args []string) error {
	ran := false
	root := newRoot(ctx, e, &ran)
	root.SetArgs(append([]string{}, longFlags(root, args)...))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil || ran {
		return err
	}
	if _, ok := ExitCode(err); ok {
		return err
	}
	if cmd == nil {
		cmd = root
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return usageError("%v\nRun '%s --help' for usage.", err, cmd.CommandPath())
}
