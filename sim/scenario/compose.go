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
// the outside (ComposeStack): load, network faults through toxiproxy's API,
// process faults through the Docker API (checked when the run connects),
// reconciliation; but storage and L7 faults act through in-process hooks
// only `shoplab up` has. The error names each such fault and what runs the
// scenario instead; file is its path, for the message. A run against a
// --target ops API is not refused.
func CheckEnv(s *spec.Scenario, file string, env *envs.Env, target string) error {
	if env == nil || env.Faults != "toxiproxy" || target != "" {
		return nil
	}
	return checkStackFaults(s, file, env.Name+" env")
}

// checkStackFaults refuses the faults a Stack cannot apply from outside.
func checkStackFaults(s *spec.Scenario, file, where string) error {
	var inProcess []string
	for _, f := range s.Faults {
		if k := faultKinds[f.Type]; k != "network" && k != "process" {
			inProcess = append(inProcess, fmt.Sprintf("%s (%s on %s)", f.Name, f.Type, f.Target))
		}
	}
	if len(inProcess) == 0 {
		return nil
	}
	if file == "" {
		file = filepath.Join("scenarios", s.Name+".yaml")
	}
	return errs.E(errs.FailedPrecondition,
		"%s: the %s runs its units as separate processes, driven from the outside (load, network faults through toxiproxy, process faults through the Docker API, reconciliation), "+
			"and this scenario needs the in-process chaos hooks (SQL driver, gRPC/HTTP/AWS middleware) of `shoplab up` for %s, which no container exposes. "+
			"Run it on the host parts instead (`shoplab deps up && shoplab run --env host %s`)",
		s.Name, where, strings.Join(inProcess, ", "), file)
}
