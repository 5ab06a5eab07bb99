package chaos

import "github.com/shoplab/shoplab/services/platform/errs"

// Toxic is one toxiproxy toxic a network fault installs on its edge's
// proxy, in toxiproxy's own units (the JSON its API takes).
type Toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// ToxiproxyPlan is how a network fault acts on a toxiproxy that is not
// this engine's (the compose stack's toxiproxy container): the proxy named
// like the edge, disabled for a down fault, else given Toxics.
type ToxiproxyPlan struct {
	Proxy   string
	Disable bool
	Toxics  []Toxic
}

// PlanToxiproxy validates f and returns what applying it through
// toxiproxy's HTTP API takes, with the same toxics, streams and units the
// engine itself installs; id names the toxics (chaos-<id>-<stream>). Other
// kinds of fault (process, storage, L7, pause) act inside the env's
// processes and are refused with a failed_precondition naming the kind.
func PlanToxiproxy(f Fault, id string) (ToxiproxyPlan, error) {
	pl, err := f.plan()
	if err != nil {
		return ToxiproxyPlan{}, err
	}
	out := ToxiproxyPlan{Proxy: pl.fault.Target}
	switch pl.spec.class {
	case classDown:
		out.Disable = true
	case classToxic:
		attrs := toxicAttributes(pl)
		for _, stream := range streams(pl.fault.Direction) {
			out.Toxics = append(out.Toxics, Toxic{Name: toxicName(id, stream), Type: pl.spec.toxic, Stream: stream, Toxicity: pl.fault.Toxicity, Attributes: attrs})
		}
	default:
		return ToxiproxyPlan{}, errs.E(errs.FailedPrecondition, "%s is a %s fault: toxiproxy's API applies network faults only", pl.spec.name, pl.spec.class.kind())
	}
	return out, nil
}
