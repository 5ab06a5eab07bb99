// Package profiles holds the cost profiles of the HPA twin (see
// sim/hpa/model), embedded so that `shoplab hpa simulate` and `check` work
// from any directory with the profile the binary was built with.
package profiles

import (
	_ "embed"

	"github.com/shoplab/shoplab/sim/hpa/model"
)

// LocalJSON is local.json as committed: the costs `shoplab calibrate`
// measured on the local env (its note says when and how).
//
//go:embed local.json
var LocalJSON []byte

// Local returns local.json, decoded and validated.
func Local() (model.Profile, error) { return model.Decode(LocalJSON) }
