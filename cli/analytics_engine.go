package cli

import (
	"github.com/shoplab/shoplab/envs"
)

// analyticsFlagUsage is the help of --analytics on up, demo and run.
const analyticsFlagUsage = "analytics engine: go or flink (the Flink SQL job in a local MiniCluster JVM; needs a real broker, e.g. --env host, and java 17 + mvn); default: the env file's analytics.engine"

// withAnalyticsEngine applies --analytics to the env: a copy with
// analytics.engine set, checked by the env file's own rules.
func withAnalyticsEngine(env *envs.Env, engine string) (*envs.Env, error) {
	switch engine {
	case "":
		return env, nil
	case envs.EngineGo, envs.EngineFlink:
	default:
		return nil, usageError("--analytics: want go or flink, got %q", engine)
	}
	if env == nil {
		if engine == envs.EngineGo {
			return nil, nil
		}
		return nil, usageError("--analytics flink needs a real Kafka broker: add --env host (after `shoplab deps up --env host`) or an env file's path")
	}
	e := *env
	e.Analytics.Engine = engine
	if e.Analytics.Engine == envs.EngineFlink && e.Kafka.Embedded {
		return nil, usageError("--analytics flink: %s has kafka.embedded: the Flink job needs a real broker", e.Where("kafka.embedded", "true"))
	}
	return &e, nil
}
