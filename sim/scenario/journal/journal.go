// Package journal is the record of one scenario run: what was asked, what
// happened second by second, and the verdict. The runner writes it as
// journal.json; report.html and junit.xml are rendered from it, so the three
// files can never disagree.
package journal

import (
	"encoding/json"
	"os"
	"time"

	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/reconcile"
)

// Verdicts.
const (
	Pass = "pass"
	Fail = "fail"
)

// Journal is one run.
type Journal struct {
	Scenario      string    `json:"scenario"`
	Description   string    `json:"description"`
	File          string    `json:"file"`
	Seed          uint64    `json:"seed"`
	Short         bool      `json:"short"`                    // run with --short
	ScaleFactor   float64   `json:"scale_factor"`             // times in the file were multiplied by this (1 = as written)
	RateFactor    float64   `json:"rate_factor,omitempty"`    // arrival rates and throughput bounds were multiplied by this to fit the env's scenario_max_rate (absent = as written)
	LatencyFactor float64   `json:"latency_factor,omitempty"` // latency bounds were multiplied by this, the env's scenario_latency_factor (absent = as written)
	Verdict       string    `json:"verdict"`                  // "pass" or "fail"
	Expected      string    `json:"expected"`                 // the scenario's expect
	Reasons       []string  `json:"reasons"`                  // why the verdict is fail; empty on pass
	StartedAt     time.Time `json:"started_at"`
	Seconds       float64   `json:"seconds"`      // wall time of the whole run
	LoadSeconds   float64   `json:"load_seconds"` // scheduled load duration

	Aborted    *Abort           `json:"aborted,omitempty"`
	Phases     []Phase          `json:"phases"`
	Probes     []ProbeResult    `json:"probes"`
	Recovery   []RecoveryResult `json:"recovery"`
	Invariants []Invariant      `json:"invariants"`
	Faults     []FaultRecord    `json:"faults"`

	Load      LoadSummary           `json:"load"`
	PhaseStat map[string]load.Stats `json:"phase_stats"` // by phase name, plus "total"
	Series    []load.SecondStats    `json:"series"`      // one entry per second of load
}

// Abort says an abort rule stopped the run early.
type Abort struct {
	Rule     string  `json:"rule"`
	At       float64 `json:"at"` // seconds from the load start
	Observed float64 `json:"observed"`
	Detail   string  `json:"detail"`
}

// Phase is a named time range of the load, in seconds from its start.
// Phases may be empty (From == To), e.g. "during" in a run without faults.
type Phase struct {
	Name string  `json:"name"`
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// ProbeResult is one steady-state probe evaluated over one phase.
// Latencies are in milliseconds, rates as fractions, throughput in req/s.
type ProbeResult struct {
	Name      string   `json:"name"`
	Phase     string   `json:"phase"`
	Metric    string   `json:"metric"`
	Journey   string   `json:"journey,omitempty"`
	Endpoint  string   `json:"endpoint,omitempty"`
	Condition string   `json:"condition"`
	Observed  *float64 `json:"observed"` // nil when the phase had no data (then Skipped)
	Max       *float64 `json:"max,omitempty"`
	Min       *float64 `json:"min,omitempty"`
	Unit      string   `json:"unit"` // "ms", "ratio", "req/s", "count"
	OK        bool     `json:"ok"`
	Skipped   bool     `json:"skipped,omitempty"` // the phase was empty or saw no matching requests
	Detail    string   `json:"detail,omitempty"`
}

// RecoveryResult is one recovery probe: how long after the last fault the
// metric came back inside its bound.
type RecoveryResult struct {
	Name      string   `json:"name"`
	Metric    string   `json:"metric"`
	Journey   string   `json:"journey,omitempty"`
	Endpoint  string   `json:"endpoint,omitempty"`
	Condition string   `json:"condition"`
	Within    float64  `json:"within"`              // seconds allowed
	Recovered *float64 `json:"recovered,omitempty"` // seconds after the last fault ended; nil if never
	OK        bool     `json:"ok"`
	Detail    string   `json:"detail"`
}

// Invariant is one data-correctness check after the run.
type Invariant = reconcile.Result

// FaultRecord is one fault of the timeline as it really happened.
type FaultRecord struct {
	Name       string         `json:"name"`
	Target     string         `json:"target"`
	Type       string         `json:"type"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Start      float64        `json:"start"` // seconds from the load start
	End        float64        `json:"end"`   // when it was removed
	Error      string         `json:"error,omitempty"`
}

// LoadSummary counts the load's iterations.
type LoadSummary struct {
	Executor  string  `json:"executor"`
	Scheduled int64   `json:"scheduled"`
	Started   int64   `json:"started"`
	Dropped   int64   `json:"dropped"`
	Settled   int     `json:"settled"`   // unknown order outcomes settled after the load
	Unknown   int     `json:"unknown"`   // still unknown after settling
	Orders    int     `json:"orders"`    // order attempts in the client ledger
	Seconds   float64 `json:"seconds"`   // how long the load really ran
	PeakRate  float64 `json:"peak_rate"` // highest scheduled arrival rate, it/s

	Outcomes map[string]int `json:"outcomes"` // order attempts by client-seen outcome: created, declined, rejected, unknown
	Emails   int            `json:"emails"`   // emails in the mailbox after settling
	Windows  int            `json:"windows"`  // closed analytics windows after settling
}

// OK reports whether every probe, recovery probe and invariant held and
// the run was not aborted.
func (j *Journal) OK() bool {
	if j.Aborted != nil {
		return false
	}
	for _, p := range j.Probes {
		if !p.OK {
			return false
		}
	}
	for _, r := range j.Recovery {
		if !r.OK {
			return false
		}
	}
	for _, i := range j.Invariants {
		if !i.OK {
			return false
		}
	}
	return true
}

// WriteFile writes the journal as indented JSON.
func (j *Journal) WriteFile(path string) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadFile reads a journal written by WriteFile.
func ReadFile(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	return &j, nil
}
