package cli

import (
	"slices"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/parts"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// runPartControl is the owner of the real parts a run's kill and restart
// faults on postgres or kafka act on: the parts `shoplab deps up` started
// in stateDir (default: deps' own default). Only scenarios that name a
// part get one; nil otherwise. It never touches a part another state dir
// started (parts.Owner checks the recorded PID and command line).
func runPartControl(e env, envName, stateDir string, env *envs.Env, scenarios []*spec.Scenario) (cloud.PartControl, error) {
	if env.IsLocal() || !slices.ContainsFunc(scenarios, namesAPart) {
		return nil, nil
	}
	path, err := resolveEnvFile(envName)
	if err != nil {
		return nil, err
	}
	ps, err := loadPartsSpec(path)
	if err != nil {
		return nil, err
	}
	if stateDir == "" {
		if stateDir, err = parts.DefaultStateDir(e.lookup); err != nil {
			return nil, err
		}
	}
	o, err := parts.New(parts.Config{StateDir: stateDir, Spec: ps, Only: spec.Parts, Progress: e.stderr})
	if err != nil {
		return nil, usageError("--deps-state-dir: %v", err)
	}
	return o, nil
}

func namesAPart(s *spec.Scenario) bool {
	return slices.ContainsFunc(s.Faults, func(f spec.Fault) bool {
		return slices.Contains(spec.Parts, f.Target) && (f.Type == "kill" || f.Type == "restart")
	})
}

// envLabel is the env's name for a scenario's envs list ("local" for the
// embedded default).
func envLabel(env *envs.Env) string {
	if env == nil {
		return envs.Local
	}
	return env.Name
}
