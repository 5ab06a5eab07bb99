package platform

import (
	"fmt"
	"slices"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// SettleHold is how long a Deployment must stay at its settles_to count, at
// least, for the check to call it settled: a simulation for a settle
// expectation runs this long past the latest settle_within, so a scale that
// touches the count and moves on does not pass.
const SettleHold = 5 * time.Minute

// ChangeWindow is the sliding window of max_changes_per_5m.
const ChangeWindow = 5 * time.Minute

// Expectation is what the twin must predict for one Deployment: a
// scenario's hpa section (spec.HPAExpectation). A zero field sets no
// expectation; Reaches goes with Within and SettlesTo with SettleWithin.
type Expectation struct {
	// Reaches: replicas >= Reaches at some sync at or before Within (from
	// the start of the load).
	Reaches int32
	Within  time.Duration
	// NeverAbove: replicas <= NeverAbove at every sync.
	NeverAbove int32
	// SettlesTo: from some sync at or before load end + SettleWithin until
	// the end of the simulation, replicas == SettlesTo at every sync.
	SettlesTo    int32
	SettleWithin time.Duration
	// MaxChangesPer5m: at most this many syncs change the scale in any
	// window (t-5m, t]; nil sets no limit.
	MaxChangesPer5m *int
}

// Outcome is one expectation held against a timeline.
type Outcome struct {
	Unit        string `json:"unit"`
	Expectation string `json:"expectation"`
	Observed    string `json:"observed"`
	OK          bool   `json:"ok"`
}

// Horizon is how long a simulation must run for a check of exps on a load
// that ends at loadEnd: to the latest settle_within plus SettleHold, to the
// latest within, and at least to the end of the load.
func Horizon(loadEnd time.Duration, exps map[string]Expectation) time.Duration {
	h := loadEnd
	for _, e := range exps {
		if e.SettlesTo > 0 {
			h = max(h, loadEnd+e.SettleWithin+SettleHold)
		}
		h = max(h, e.Within)
	}
	return h
}

// Check holds each Deployment's expectations against the timeline, in the
// order reaches, never_above, settles_to, max_changes_per_5m, Deployments
// sorted by name. A Deployment the timeline does not have is an error, as
// is a timeline too short to judge an expectation.
func Check(tl *Timeline, exps map[string]Expectation) ([]Outcome, error) {
	names := make([]string, 0, len(exps))
	for n := range exps {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Outcome
	for _, name := range names {
		u := tl.Unit(name)
		if u == nil {
			have := make([]string, len(tl.Units))
			for i, x := range tl.Units {
				have[i] = x.Name
			}
			return nil, errs.InvalidField("hpa."+name, "is not a Deployment of the overlay (it has %v)", have)
		}
		e := exps[name]
		if e.SettlesTo > 0 && tl.Until < tl.LoadEnd+seconds(e.SettleWithin) {
			return nil, errs.InvalidField("hpa."+name+".settle_within", "ends at %ds, after the simulation (%ds)", tl.LoadEnd+seconds(e.SettleWithin), tl.Until)
		}
		if e.Reaches > 0 && tl.Until < seconds(e.Within) {
			return nil, errs.InvalidField("hpa."+name+".within", "is %ds, after the simulation (%ds)", seconds(e.Within), tl.Until)
		}
		if e.Reaches > 0 {
			out = append(out, checkReaches(u, e))
		}
		if e.NeverAbove > 0 {
			out = append(out, checkNeverAbove(u, e))
		}
		if e.SettlesTo > 0 {
			out = append(out, checkSettles(u, tl.LoadEnd, e))
		}
		if e.MaxChangesPer5m != nil {
			out = append(out, checkChanges(u, e))
		}
	}
	return out, nil
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func checkReaches(u *UnitTimeline, e Expectation) Outcome {
	o := Outcome{Unit: u.Name, Expectation: fmt.Sprintf("reaches %d within %s", e.Reaches, e.Within)}
	deadline := seconds(e.Within)
	var peak int32
	var peakAt int64
	for _, p := range u.Points {
		if p.T > deadline {
			break
		}
		if p.Replicas >= e.Reaches {
			o.OK = true
			o.Observed = fmt.Sprintf("%d at %ds", p.Replicas, p.T)
			return o
		}
		if p.Replicas > peak {
			peak, peakAt = p.Replicas, p.T
		}
	}
	o.Observed = fmt.Sprintf("at most %d by %ds (at %ds)", peak, deadline, peakAt)
	if s := u.Summary; s.MaxReplicas >= e.Reaches {
		o.Observed += fmt.Sprintf("; %d only at %ds", s.MaxReplicas, s.MaxAt)
	}
	return o
}

func checkNeverAbove(u *UnitTimeline, e Expectation) Outcome {
	s := u.Summary
	return Outcome{
		Unit: u.Name, Expectation: fmt.Sprintf("never above %d", e.NeverAbove),
		Observed: fmt.Sprintf("max %d at %ds", s.MaxReplicas, s.MaxAt),
		OK:       s.MaxReplicas <= e.NeverAbove,
	}
}

// checkSettles finds the first sync at or after the load's end from which
// the scale stays at the count to the end of the simulation.
func checkSettles(u *UnitTimeline, loadEnd int64, e Expectation) Outcome {
	o := Outcome{Unit: u.Name, Expectation: fmt.Sprintf("settles to %d within %s of the load's end", e.SettlesTo, e.SettleWithin)}
	settled := int64(-1)
	for i := len(u.Points) - 1; i >= 0 && u.Points[i].Replicas == e.SettlesTo && u.Points[i].T >= loadEnd; i-- {
		settled = u.Points[i].T
	}
	if settled < 0 {
		last := u.Points[len(u.Points)-1]
		o.Observed = fmt.Sprintf("%d at the end (%ds)", last.Replicas, last.T)
		return o
	}
	after := settled - loadEnd
	o.Observed = fmt.Sprintf("%d from %ds (load end + %ds)", e.SettlesTo, settled, after)
	o.OK = after <= seconds(e.SettleWithin)
	return o
}

func checkChanges(u *UnitTimeline, e Expectation) Outcome {
	o := Outcome{Unit: u.Name, Expectation: fmt.Sprintf("at most %d changes in any 5m", *e.MaxChangesPer5m)}
	var changes []int64 // times of the syncs that changed the scale
	prev := u.initial()
	for _, p := range u.Points {
		if p.Replicas != prev {
			changes = append(changes, p.T)
		}
		prev = p.Replicas
	}
	most, endAt := 0, int64(0)
	window := seconds(ChangeWindow)
	for i, lo := 0, 0; i < len(changes); i++ {
		for changes[lo] <= changes[i]-window {
			lo++
		}
		if n := i - lo + 1; n > most {
			most, endAt = n, changes[i]
		}
	}
	if most == 0 {
		o.Observed = "no change"
	} else {
		o.Observed = fmt.Sprintf("%d in the 5m to %ds", most, endAt)
	}
	o.OK = most <= *e.MaxChangesPer5m
	return o
}

func (u *UnitTimeline) initial() int32 {
	if u.HPA != nil {
		return u.HPA.MinReplicas
	}
	return u.FixedReplicas
}
