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
// compose stack) runs its units in containers: the runner must not start
// in-process units against the stack's service names, and it cannot drive
// the containers yet. The error names what is missing for this scenario and
// what runs it instead; file is the scenario's path, for the message. A run
// against a --target ops API is not refused.
func CheckEnv(s *spec.Scenario, file string, env *envs.Env, target string) error {
	if env == nil || env.Faults != "toxiproxy" || target != "" {
		return nil
	}
	var network, process, inProcess []string
	for _, f := range s.Faults {
		d := fmt.Sprintf("%s (%s on %s)", f.Name, f.Type, f.Target)
		switch faultKinds[f.Type] {
		case "network":
			network = append(network, d)
		case "process":
			process = append(process, d)
		default:
			inProcess = append(inProcess, d)
		}
	}
	var missing []string
	if len(network) > 0 {
		missing = append(missing, fmt.Sprintf("a fault driver for the toxiproxy container's API (%s) for the network faults %s", env.ToxiproxyAPI, strings.Join(network, ", ")))
	}
	if len(process) > 0 {
		missing = append(missing, "the Docker API to stop and start containers for the process faults "+strings.Join(process, ", "))
	}
	if len(inProcess) > 0 {
		missing = append(missing, "the in-process chaos hooks (SQL driver, gRPC/HTTP/AWS middleware) of `shoplab up` for "+strings.Join(inProcess, ", ")+", which no container exposes")
	}
	missing = append(missing, "an env-wide ops API for reconciliation: GET /ops/v1/mailbox (`serve notification` serves none) and /ops/v1/analytics/windows as `shoplab up` lists them")
	if file == "" {
		file = filepath.Join("scenarios", s.Name+".yaml")
	}
	return errs.E(errs.FailedPrecondition,
		"%s: the %s env runs its units as containers, and `shoplab run` cannot drive them yet: it needs %s. "+
			"Run it on the host parts instead (`shoplab deps up && shoplab run --env host %s`), or drive its load and network faults with k6 against the stack "+
			"(`SCENARIO=%s docker compose --env-file .env --env-file compose/chaos.env --profile core --profile chaos --profile load run --rm k6`)",
		s.Name, env.Name, strings.Join(missing, "; "), file, s.Name)
}
