package spec

import (
	"slices"
	"sort"

	"github.com/shoplab/shoplab/chaos"
)

// Units are the platform's units, valid targets of process faults. They
// mirror sim/cloud and chaos, which this package does not import for that.
var Units = []string{"gateway", "user", "product", "order", "payment", "notification", "analytics"}

// Parts are the real parts kill and restart may also target (chaos.Parts):
// the PostgreSQL server and the Kafka broker that `shoplab deps` started.
// Only an env that runs them on this machine can apply such a fault, so a
// scenario that names one lists envs: [host].
var Parts = []string{"postgres", "kafka"}

// Deployments are the units that run as Kubernetes Deployments, and so may
// have a HorizontalPodAutoscaler: the keys an hpa section may use.
// notification (a Lambda) and analytics (a Flink job) do not scale by HPA.
var Deployments = []string{"gateway", "user", "product", "order", "payment"}

// StorageUnits are the units that open an SQL store, valid targets of
// storage faults.
var StorageUnits = []string{"user", "product", "order", "payment", "notification", "analytics"}

// GRPCUnits are the units that serve gRPC, valid server-side targets of a
// grpc_error fault.
var GRPCUnits = []string{"user", "product", "order", "payment"}

// GRPCEdges are the gRPC client edges, valid client-side targets of a
// grpc_error fault; they are also network edges.
var GRPCEdges = []string{"gateway->user", "gateway->product", "gateway->order", "order->user", "order->product", "order->payment"}

// KafkaEdges are the edges from a unit to the Kafka broker.
var KafkaEdges = []string{"order->kafka", "notification->kafka", "analytics->kafka"}

// PostgresEdges are the edges from the relational units to PostgreSQL; they
// exist in an env whose stores.relational is postgres (envs/host.yaml).
var PostgresEdges = []string{"user->postgres", "order->postgres", "payment->postgres"}

// AWSEdges are the edges from a unit to the AWS API (DynamoDB, S3, SES);
// they exist in an env that uses an AWS endpoint, and aws_error acts on
// them.
var AWSEdges = []string{"product->aws", "notification->aws", "analytics->aws"}

// Edges are every network edge that passes a toxiproxy proxy: the targets of
// network faults, together with [KafkaTarget].
var Edges = slices.Concat(GRPCEdges, KafkaEdges, PostgresEdges, AWSEdges)

// KafkaTarget is the pseudo-target of a network fault on every Kafka edge at
// once (a broker outage); [Fault.Targets] expands it.
const KafkaTarget = "kafka"

// ClientGateway is the customers' edge to the gateway; only http_error acts
// on it (as it does on "gateway").
const ClientGateway = "client->gateway"

// faultTypes holds chaos's fault registry by name: the attribute names and
// kinds a scenario may use come from the engine that applies them.
var faultTypes = func() map[string]chaos.TypeInfo {
	m := map[string]chaos.TypeInfo{}
	for _, t := range chaos.Types() {
		m[t.Name] = t
	}
	return m
}()

// FaultTypes lists the fault types a scenario may use, sorted.
func FaultTypes() []string {
	names := make([]string, 0, len(faultTypes))
	for n := range faultTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FaultTargets lists the targets a fault of the given type may name, or nil
// for an unknown type.
func FaultTargets(faultType string) []string {
	t, ok := faultTypes[faultType]
	if !ok {
		return nil
	}
	switch {
	case faultType == chaos.GRPCError:
		return append(slices.Clone(GRPCEdges), GRPCUnits...)
	case faultType == chaos.HTTPError:
		return []string{"gateway", ClientGateway}
	case faultType == chaos.AWSError:
		return slices.Clone(AWSEdges)
	case t.Kind == "network":
		return append(slices.Clone(Edges), KafkaTarget)
	case t.Kind == "storage":
		return slices.Clone(StorageUnits)
	case faultType == chaos.Kill || faultType == chaos.Restart:
		return append(slices.Clone(Units), Parts...)
	}
	return slices.Clone(Units) // process faults
}

// allTargets is every target any fault type accepts.
func allTargets() []string {
	seen := map[string]bool{}
	var out []string
	for _, ft := range FaultTypes() {
		for _, t := range FaultTargets(ft) {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// isToxic reports whether a fault type is a toxiproxy toxic, the only kind
// that takes toxicity and direction.
func isToxic(faultType string) bool { return faultTypes[faultType].Toxicity }

// attrInfo returns the attribute of a fault type by name.
func attrInfo(faultType, name string) (chaos.AttributeInfo, bool) {
	for _, a := range faultTypes[faultType].Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return chaos.AttributeInfo{}, false
}

// grpcCodes are the canonical names of the gRPC status codes that are
// errors, as grpc_error's code attribute spells them in a scenario.
var grpcCodes = []string{
	"CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}
