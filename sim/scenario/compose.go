package scenario

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// faultKinds is chaos's kind (network, process, storage, l7) by fault type.
var faultKinds = func() map[string]string {
	m := map[string]string{}
	for _, t := range chaos.Types() {
		m[t.Name] = t.Kind
	}
	return m
}()

// CheckEnv refuses, before anything starts, a run the env cannot host. An
// env whose faults are an external toxiproxy (envs/compose.yaml: the docker
// compose stack) runs its units in containers: the runner drives it from
// the outside (ComposeStack), which carries load, network faults through
// toxiproxy's API and reconciliation, but no fault that acts inside a unit:
// process faults would need the Docker API, storage and L7 faults the
// in-process hooks of `shoplab up`. The error names each such fault and
// what runs the scenario instead; file is its path, for the message. A run
// against a --target ops API is not refused.
func CheckEnv(s *spec.Scenario, file string, env *envs.Env, target string) error {
	if env == nil || env.Faults != "toxiproxy" || target != "" {
		return nil
	}
	return checkStackFaults(s, file, env.Name+" env")
}

// checkStackFaults refuses the faults a Stack cannot apply.
func checkStackFaults(s *spec.Scenario, file, where string) error {
	var process, inProcess []string
	for _, f := range s.Faults {
		d := fmt.Sprintf("%s (%s on %s)", f.Name, f.Type, f.Target)
		switch faultKinds[f.Type] {
		case "network":
		case "process":
			process = append(process, d)
		default:
			inProcess = append(inProcess, d)
		}
	}
	var missing []string
	if len(process) > 0 {
		missing = append(missing, "the Docker API to stop and start containers for the process faults "+strings.Join(process, ", ")+" (not implemented)")
	}
	if len(inProcess) > 0 {
		missing = append(missing, "the in-process chaos hooks (SQL driver, gRPC/HTTP/AWS middleware) of `shoplab up` for "+strings.Join(inProcess, ", ")+", which no container exposes")
	}
	if len(missing) == 0 {
		return nil
	}
	if file == "" {
		file = filepath.Join("scenarios", s.Name+".yaml")
	}
	return errs.E(errs.FailedPrecondition,
		"%s: the %s runs its units as separate processes, driven from the outside (load, network faults through toxiproxy, reconciliation), and this scenario needs %s. "+
			"Run it on the host parts instead (`shoplab deps up && shoplab run --env host %s`)",
		s.Name, where, strings.Join(missing, "; "), file)
}
