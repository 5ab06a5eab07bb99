// Package model turns a load of shopper journeys into what each unit of the
// platform asks of its pods: request rates, CPU, memory and latency. It holds
// the cost profile (what one journey costs each unit, measured by `shoplab
// calibrate` or estimated), the call graph (which calls a journey makes), the
// least-squares fit that builds a profile from measurements, and an M/M/c
// queueing estimate of latency.
//
// The HPA twin (package hpa) consumes its output: CPU millicores per
// Deployment and memory per pod at each sync.
package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Version is the profile format this package reads and writes.
const Version = 1

// The values of Profile.Source.
const (
	// SourceEstimated marks numbers set by hand from what the code does,
	// before anyone measured them.
	SourceEstimated = "estimated"
	// SourceMeasured marks numbers fitted from calibration samples.
	SourceMeasured = "measured"
)

// Client is the caller of a journey's first calls: the shopper's browser.
const Client = "client"

// DefaultStartupSeconds is a new pod's creation-to-Ready time when neither
// the profile nor the command line says otherwise: image already on the
// node, a Go binary that starts in well under a second, a readiness probe
// every 5 s, and the scheduler and kubelet in between.
const DefaultStartupSeconds = 20

// Profile is a cost profile: for each unit, what one iteration of each
// journey costs it, and how its memory and latency behave. It is a versioned
// JSON file (profiles/local.json) so a change in a service's cost shows up
// as a diff.
type Profile struct {
	Version int `json:"version"`
	// Source is SourceEstimated or SourceMeasured.
	Source string `json:"source"`
	// Note says where the numbers come from (the machine, the commit, the
	// load); free text.
	Note string `json:"note,omitempty"`
	// Units maps a unit (gateway, user, product, order, payment) to its costs.
	Units map[string]UnitCost `json:"units"`
	// Journeys is the call graph: the calls one iteration of each journey
	// makes. DefaultJourneys is the platform's.
	Journeys map[string][]Call `json:"journeys"`
}

// UnitCost is what the load costs one unit.
type UnitCost struct {
	// IdleCPUMillicores is what one pod uses with no requests: the Go
	// runtime, health probes, metrics scrapes, background loops.
	IdleCPUMillicores float64 `json:"idle_cpu_millicores"`
	// CPUSecondsPerIteration is the CPU time the unit spends, summed over
	// all its calls, per iteration of each journey that reaches it. A
	// journey that reaches the unit must have an entry; one that does not
	// must not.
	CPUSecondsPerIteration map[string]float64 `json:"cpu_seconds_per_iteration"`
	// ServiceSeconds is the mean time one call spends in the unit at low
	// load, excluding the time it waits on the unit's own downstream calls:
	// its CPU time plus its own I/O (database, Kafka).
	ServiceSeconds float64 `json:"service_seconds"`
	// MemoryBaseBytes is a pod's resident memory with no load.
	MemoryBaseBytes int64 `json:"memory_base_bytes"`
	// MemoryPerInflightBytes is the memory each request in flight in the
	// pod holds (buffers, decoded messages, an argon2 hash's matrix).
	MemoryPerInflightBytes int64 `json:"memory_per_inflight_bytes"`
	// MemoryPerRPSBytes is the memory a pod's heap grows by per request per
	// second it serves: garbage allocated between two GC cycles, caches
	// warmed by traffic.
	MemoryPerRPSBytes int64 `json:"memory_per_rps_bytes"`
	// StartupSeconds is a new pod's creation-to-Ready time; 0 means
	// DefaultStartupSeconds.
	StartupSeconds float64 `json:"startup_seconds,omitempty"`
}

// Startup returns the unit's pod startup time in seconds.
func (u UnitCost) Startup() float64 {
	if u.StartupSeconds == 0 {
		return DefaultStartupSeconds
	}
	return u.StartupSeconds
}

// Call is a number of calls one iteration of a journey makes from one unit
// (or the Client) to another.
type Call struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Method names the call (a REST route or a gRPC method), for people.
	Method string `json:"method"`
	// PerIteration is the mean number of such calls per iteration; a
	// fraction means some iterations make it and some do not.
	PerIteration float64 `json:"per_iteration"`
}

// Load reads and validates the profile at path.
func Load(path string) (Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Profile{}, errs.Wrap(errs.NotFound, err, "profile %s", path)
		}
		return Profile{}, errs.Wrap(errs.Invalid, err, "profile %s", path)
	}
	p, err := Decode(data)
	if err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// Decode parses and validates a profile. Unknown fields and trailing data
// are errors: a misspelt cost must not silently become zero.
func Decode(data []byte) (Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, errs.Wrap(errs.Invalid, err, "not a valid profile")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Profile{}, errs.E(errs.Invalid, "not a valid profile: unexpected data after the document at byte %d", dec.InputOffset())
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// Encode returns the profile as indented JSON with a trailing newline. Keys
// come out sorted, so two profiles diff line by line.
func (p Profile) Encode() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Save validates the profile and writes it to path, replacing the file
// atomically so a failed write never leaves half a profile behind.
func (p Profile) Save(path string) error {
	b, err := p.Encode()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Validate reports the first thing wrong with the profile, naming the field.
func (p Profile) Validate() error {
	if p.Version != Version {
		return errs.InvalidField("version", "must be %d, got %d", Version, p.Version)
	}
	if p.Source != SourceEstimated && p.Source != SourceMeasured {
		return errs.InvalidField("source", "must be %q or %q, got %q", SourceEstimated, SourceMeasured, p.Source)
	}
	if len(p.Units) == 0 {
		return errs.InvalidField("units", "needs at least one unit")
	}
	if len(p.Journeys) == 0 {
		return errs.InvalidField("journeys", "needs at least one journey")
	}
	for _, name := range sortedKeys(p.Units) {
		if name == Client || !namePattern.MatchString(name) {
			return errs.InvalidField("units."+name, "is not a valid unit name (lower case, not %q)", Client)
		}
	}
	reaches := map[string]map[string]bool{} // unit -> journeys that call it
	for _, j := range sortedKeys(p.Journeys) {
		if !namePattern.MatchString(j) {
			return errs.InvalidField("journeys."+j, "is not a valid journey name (lower case letters, digits, _ and -)")
		}
		calls := p.Journeys[j]
		fromClient := false
		for i, c := range calls {
			field := fmt.Sprintf("journeys.%s[%d]", j, i)
			if c.From != Client {
				if _, ok := p.Units[c.From]; !ok {
					return errs.InvalidField(field+".from", "is %q, neither %q nor a unit of the profile", c.From, Client)
				}
			}
			if _, ok := p.Units[c.To]; !ok {
				return errs.InvalidField(field+".to", "is %q, not a unit of the profile", c.To)
			}
			if c.From == c.To {
				return errs.InvalidField(field, "calls itself (%s)", c.To)
			}
			if !(c.PerIteration > 0) || math.IsInf(c.PerIteration, 0) {
				return errs.InvalidField(field+".per_iteration", "must be a positive number, got %g", c.PerIteration)
			}
			fromClient = fromClient || c.From == Client
			if reaches[c.To] == nil {
				reaches[c.To] = map[string]bool{}
			}
			reaches[c.To][j] = true
		}
		if !fromClient {
			return errs.InvalidField("journeys."+j, "has no call from %q: nothing would start it", Client)
		}
	}
	if cycle := findCycle(p.Journeys); cycle != nil {
		return errs.InvalidField("journeys", "the calls make a cycle %v; latency and in-flight counts would never settle", cycle)
	}
	for _, name := range sortedKeys(p.Units) {
		u := p.Units[name]
		field := "units." + name
		switch {
		case !finiteNonNegative(u.IdleCPUMillicores):
			return errs.InvalidField(field+".idle_cpu_millicores", "must be a non-negative number, got %g", u.IdleCPUMillicores)
		case !(u.ServiceSeconds > 0) || math.IsInf(u.ServiceSeconds, 0):
			return errs.InvalidField(field+".service_seconds", "must be a positive number, got %g", u.ServiceSeconds)
		case u.MemoryBaseBytes <= 0:
			return errs.InvalidField(field+".memory_base_bytes", "must be positive, got %d", u.MemoryBaseBytes)
		case u.MemoryPerInflightBytes < 0:
			return errs.InvalidField(field+".memory_per_inflight_bytes", "must not be negative, got %d", u.MemoryPerInflightBytes)
		case u.MemoryPerRPSBytes < 0:
			return errs.InvalidField(field+".memory_per_rps_bytes", "must not be negative, got %d", u.MemoryPerRPSBytes)
		case !finiteNonNegative(u.StartupSeconds) || u.StartupSeconds > 3600:
			return errs.InvalidField(field+".startup_seconds", "must be between 0 and 3600, got %g", u.StartupSeconds)
		}
		for _, j := range sortedKeys(u.CPUSecondsPerIteration) {
			c := u.CPUSecondsPerIteration[j]
			if _, ok := p.Journeys[j]; !ok {
				return errs.InvalidField(field+".cpu_seconds_per_iteration."+j, "is not a journey of the profile")
			}
			if !reaches[name][j] {
				return errs.InvalidField(field+".cpu_seconds_per_iteration."+j, "has a cost, but journey %s never calls %s", j, name)
			}
			if !finiteNonNegative(c) {
				return errs.InvalidField(field+".cpu_seconds_per_iteration."+j, "must be a non-negative number, got %g", c)
			}
		}
		for _, j := range sortedKeys(reaches[name]) {
			if _, ok := u.CPUSecondsPerIteration[j]; !ok {
				return errs.InvalidField(field+".cpu_seconds_per_iteration", "has no cost for journey %s, which calls %s", j, name)
			}
		}
	}
	return nil
}

// CheckJourneys reports journeys the profile knows nothing about, so a
// scenario that names one fails instead of costing nothing.
func (p Profile) CheckJourneys(names []string) error {
	for _, n := range names {
		if _, ok := p.Journeys[n]; !ok {
			return errs.E(errs.Invalid, "journey %q is not in the profile (it knows %v)", n, sortedKeys(p.Journeys))
		}
	}
	return nil
}

// PredictCPU returns the millicores one pod of unit uses when the journeys
// run at rates (iterations per second) against that pod alone: its idle CPU
// plus each journey's cost times its rate. An unknown unit predicts 0, and
// journeys the unit has no cost for cost nothing; CheckJourneys tells them.
func (p Profile) PredictCPU(unit string, rates map[string]float64) float64 {
	u, ok := p.Units[unit]
	if !ok {
		return 0
	}
	cores := 0.0
	for _, j := range sortedKeys(rates) { // a fixed order keeps the sum reproducible
		cores += rates[j] * u.CPUSecondsPerIteration[j]
	}
	return u.IdleCPUMillicores + 1000*cores
}

// RequestRate returns the calls per second unit receives when the journeys
// run at rates (iterations per second).
func (p Profile) RequestRate(unit string, rates map[string]float64) float64 {
	rps := 0.0
	for _, j := range sortedKeys(rates) {
		for _, c := range p.Journeys[j] {
			if c.To == unit {
				rps += rates[j] * c.PerIteration
			}
		}
	}
	return rps
}

// PredictMemory returns the bytes one pod of unit holds while it serves rps
// requests per second with inFlight of them in flight on average.
func (p Profile) PredictMemory(unit string, rps, inFlight float64) float64 {
	u, ok := p.Units[unit]
	if !ok {
		return 0
	}
	return float64(u.MemoryBaseBytes) + inFlight*float64(u.MemoryPerInflightBytes) + rps*float64(u.MemoryPerRPSBytes)
}

// findCycle returns a cycle of caller -> callee edges over all journeys, or nil.
func findCycle(journeys map[string][]Call) []string {
	next := map[string][]string{}
	for _, j := range sortedKeys(journeys) {
		for _, c := range journeys[j] {
			if !slices.Contains(next[c.From], c.To) {
				next[c.From] = append(next[c.From], c.To)
			}
		}
	}
	const (
		unseen = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = onStack
		stack = append(stack, n)
		for _, m := range next[n] {
			switch state[m] {
			case onStack:
				i := slices.Index(stack, m)
				return append(slices.Clone(stack[i:]), m)
			case unseen:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, n := range sortedKeys(next) {
		if state[n] == unseen {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}

func finiteNonNegative(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
