package argocd_test

import (
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shoplab/shoplab/argocd"
)

// TestChecksCatchBreakage proves the rules in TestManifests can fail: each
// case breaks one thing in a correct prod render and expects the matching
// complaint. A rule that passes everything would fail here.
func TestChecksCatchBreakage(t *testing.T) {
	rendered, err := argocd.Render("overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	container := func(m *manifests, name string) *corev1.Container {
		return &m.deployments[name].Spec.Template.Spec.Containers[0]
	}
	cases := []struct {
		name   string
		breakM func(m *manifests)
		want   string
	}{
		{"HPA targets a missing Deployment", func(m *manifests) {
			m.hpas["order"].Spec.ScaleTargetRef.Name = "orders"
		}, "is not a rendered apps/v1 Deployment"},
		{"HPA resource not requested", func(m *manifests) {
			delete(container(m, "order").Resources.Requests, corev1.ResourceCPU)
		}, "requests no cpu"},
		{"HPA on the wrong resource", func(m *manifests) {
			m.hpas["product"].Spec.Metrics[0].Resource.Name = corev1.ResourceCPU
		}, "the design scales on memory"},
		{"HPA bounds off the design", func(m *manifests) {
			m.hpas["payment"].Spec.MinReplicas = ptrTo[int32](3)
		}, "the design says 2-8"},
		{"HPA min above max", func(m *manifests) {
			m.hpas["order"].Spec.MaxReplicas = 1
		}, "minReplicas 2, maxReplicas 1"},
		{"HPA without behavior", func(m *manifests) {
			m.hpas["order"].Spec.Behavior.ScaleDown = nil
		}, "behavior must set both"},
		{"HPA missing for an autoscaled unit", func(m *manifests) {
			delete(m.hpas, "payment")
		}, "none rendered"},
		{"HPA on a hand-scaled unit", func(m *manifests) {
			h := *m.hpas["order"]
			h.Spec.ScaleTargetRef.Name = "gateway"
			m.hpas["gateway"] = &h
		}, "scaled by hand in the design"},
		{"replicas fight the HPA", func(m *manifests) {
			m.deployments["order"].Spec.Replicas = ptrTo[int32](4)
		}, "although HPA order owns the count"},
		{"manual replicas off the design", func(m *manifests) {
			m.deployments["user"].Spec.Replicas = ptrTo[int32](4)
		}, "the design allows 1-3"},
		{"utilisation target above 100", func(m *manifests) {
			m.hpas["order"].Spec.Metrics[0].Resource.Target.AverageUtilization = ptrTo[int32](150)
		}, "want a Utilization in (0, 100]"},
		{"Service selector typo", func(m *manifests) {
			m.services["user"].Spec.Selector[nameLabel] = "users"
		}, "want exactly Deployment user"},
		{"Service targets an unknown port", func(m *manifests) {
			m.services["payment"].Spec.Ports[0].TargetPort = intstr.FromString("gprc")
		}, "which no container of Deployment payment exposes"},
		{"PDB selects nothing", func(m *manifests) {
			m.pdbs["order"].Spec.Selector.MatchLabels[nameLabel] = "ordr"
		}, "PodDisruptionBudget order: selects the pods of []"},
		{"PDB blocks drains", func(m *manifests) {
			m.pdbs["order"].Spec.MaxUnavailable = ptrTo(intstr.FromInt32(0))
		}, "want maxUnavailable >= 1"},
		{"ServiceMonitor on the API port", func(m *manifests) {
			m.serviceMonitors["order"].Spec.Endpoints[0].Port = "grpc"
		}, "is not the ops port"},
		{"ServiceMonitor selects nothing", func(m *manifests) {
			m.serviceMonitors["gateway"].Spec.Selector.MatchLabels[nameLabel] = "gw"
		}, "does not select Service gateway"},
		{"an extra ServiceMonitor selects nothing", func(m *manifests) {
			sm := *m.serviceMonitors["order"]
			sm.Spec.Selector.MatchLabels = map[string]string{nameLabel: "notification"}
			m.serviceMonitors["notification"] = &sm
		}, "ServiceMonitor notification: selects no rendered Service"},
		{"an extra ServiceMonitor on a port name the Service lacks", func(m *manifests) {
			sm := *m.serviceMonitors["user"]
			sm.Spec.Endpoints = slices.Clone(sm.Spec.Endpoints)
			sm.Spec.Endpoints[0].Port = "metrics"
			m.serviceMonitors["user-metrics"] = &sm
		}, `ServiceMonitor user-metrics: Service user has no port named "metrics"`},
		{"ServiceMonitor job from a missing label", func(m *manifests) {
			m.serviceMonitors["payment"].Spec.JobLabel = "app.kubernetes.io/partof"
		}, "is a label Service payment does not carry"},
		{"readiness on the wrong path", func(m *manifests) {
			container(m, "gateway").ReadinessProbe.HTTPGet.Path = "/healthz"
		}, "readinessProbe must be httpGet /readyz"},
		{"liveness missing", func(m *manifests) {
			container(m, "gateway").LivenessProbe = nil
		}, "livenessProbe must be httpGet /healthz"},
		{"gRPC readiness asks for liveness", func(m *manifests) {
			container(m, "order").ReadinessProbe.GRPC.Service = ptrTo("liveness")
		}, `readinessProbe must be grpc service "shoplab.v1.OrderService" on port 9090`},
		{"gRPC liveness follows the store", func(m *manifests) {
			container(m, "payment").LivenessProbe.GRPC.Service = ptrTo("shoplab.v1.PaymentService")
		}, `livenessProbe must be grpc service "liveness"`},
		{"gRPC probe on the ops port", func(m *manifests) {
			container(m, "product").ReadinessProbe.GRPC.Port = 8081
		}, "(on port 9090: false)"},
		{"gRPC unit back on HTTP probes", func(m *manifests) {
			container(m, "user").StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("ops")}}}
		}, `startupProbe must be grpc service "liveness"`},
		{"writable root", func(m *manifests) {
			container(m, "payment").SecurityContext.ReadOnlyRootFilesystem = ptrTo(false)
		}, "readOnlyRootFilesystem is not true"},
		{"container overrides runAsNonRoot", func(m *manifests) {
			container(m, "gateway").SecurityContext.RunAsNonRoot = ptrTo(false)
		}, "runAsNonRoot is not true"},
		{"capability added", func(m *manifests) {
			container(m, "order").SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, "capabilities must drop ALL"},
		{"seccomp unconfined", func(m *manifests) {
			m.deployments["user"].Spec.Template.Spec.SecurityContext.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined
		}, "seccomp profile is not RuntimeDefault"},
		{"no /tmp", func(m *manifests) {
			container(m, "order").VolumeMounts = nil
		}, "no writable emptyDir mounted at /tmp"},
		{"memory limit below request", func(m *manifests) {
			container(m, "product").Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Mi")
		}, "memory limit 1Mi below request"},
		{"a second image", func(m *manifests) {
			container(m, "payment").Image = "ghcr.io/shoplab/payment:0.1.0"
		}, "want one image for every container"},
		{"a moving tag", func(m *manifests) {
			for _, d := range m.deployments {
				d.Spec.Template.Spec.Containers[0].Image = imageRepo + ":latest"
			}
		}, "must pin an immutable tag"},
		{"wrong args", func(m *manifests) {
			container(m, "order").Args = []string{"serve", "payment"}
		}, "args [serve order]"},
		{"pod labels drift from the selector", func(m *manifests) {
			m.deployments["order"].Spec.Template.Labels[nameLabel] = "orders"
		}, "does not select its own pod labels"},
		{"database URL as a literal", func(m *manifests) {
			c := container(m, "order")
			for i := range c.Env {
				if c.Env[i].Name == "SHOPLAB_DATABASE_URL" {
					c.Env[i].ValueFrom = nil
					c.Env[i].Value = "postgres://order:hunter2@db/order"
				}
			}
		}, "SHOPLAB_DATABASE_URL is not read from a Secret"},
		{"address to a missing port", func(m *manifests) {
			for _, cm := range m.configMaps {
				if _, ok := cm.Data["SHOPLAB_PAYMENT_ADDR"]; ok {
					cm.Data["SHOPLAB_PAYMENT_ADDR"] = "payment:50051"
				}
			}
		}, "Service payment has no port 50051"},
		{"a call without an address", func(m *manifests) {
			for _, cm := range m.configMaps {
				delete(cm.Data, "SHOPLAB_ORDER_ADDR")
			}
		}, "calls order but has no SHOPLAB_ORDER_ADDR"},
		{"envFrom a missing ConfigMap", func(m *manifests) {
			container(m, "user").EnvFrom[0].ConfigMapRef.Name = "shoplab-common"
		}, "envFrom ConfigMap shoplab-common is not rendered"},
		{"wrong environment", func(m *manifests) {
			for _, cm := range m.configMaps {
				if _, ok := cm.Data["SHOPLAB_ENV"]; ok {
					cm.Data["SHOPLAB_ENV"] = "aws-dev"
				}
			}
		}, `SHOPLAB_ENV="aws-dev", want aws-prod`},
		{"a secret in a ConfigMap", func(m *manifests) {
			for _, cm := range m.configMaps {
				cm.Data["SHOPLAB_JWT_KEY"] = "s3cr3t"
			}
		}, "secrets belong in a Secret"},
		{"a Deployment for the Lambda", func(m *manifests) {
			d := *m.deployments["order"]
			m.deployments["notification"] = &d
		}, "Deployment notification is not a unit"},
		{"wrong namespace", func(m *manifests) {
			m.namespaces["default"] = true
		}, `namespace "default"`},
		{"metric type changed", func(m *manifests) {
			m.hpas["order"].Spec.Metrics[0].Type = autoscalingv2.PodsMetricSourceType
		}, "the design scales on cpu"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parse(rendered)
			if err != nil {
				t.Fatal(err)
			}
			tc.breakM(m)
			errs := check(m, "prod")
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("no complaint containing %q; got %d others: %v", tc.want, len(errs), errs)
		})
	}
}

// TestParseRefuses covers what parse itself rejects before any rule runs.
func TestParseRefuses(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"unknown field": {`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: order, namespace: ecommerce}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: order}
  minReplica: 2
  maxReplicas: 10
`, `unknown field "minReplica"`},
		"a committed Secret": {`apiVersion: v1
kind: Secret
metadata: {name: order-database, namespace: ecommerce}
stringData: {url: postgres://x}
`, "a Secret is committed"},
		"an unexpected kind": {`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: gateway, namespace: ecommerce}
`, "unexpected kind"},
		"an old HPA version": {`apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: order, namespace: ecommerce}
`, "unexpected kind"},
		"a ServiceMonitor typo": {`apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: order, namespace: ecommerce}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: order}}
  endpoints: [{port: ops, path: /metrics, intervall: 15s}]
`, `unknown field "intervall"`},
		"duplicate objects": {`apiVersion: v1
kind: ServiceAccount
metadata: {name: order, namespace: ecommerce}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: order, namespace: ecommerce}
`, "duplicate object"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parse: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
