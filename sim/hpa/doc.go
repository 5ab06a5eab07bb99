// Package hpa is a digital twin of the Kubernetes HorizontalPodAutoscaler
// controller (autoscaling/v2), for predicting what a cluster would do with a
// given HPA manifest under a given load.
//
// The package has three layers:
//
//   - Controller is a port of the rules of kube-controller-manager's
//     podautoscaler package: the replica calculator (utilization, tolerance,
//     unready and missing pods, the CPU initialization period), the legacy
//     normalization (5-minute downscale stabilization, scale-up limit) and the
//     behavior normalization (stabilization windows and rate policies). It
//     keeps the per-HPA memory the real controller keeps (recommendations and
//     scale events) and reads time only from its callers.
//   - Simulator owns the pods of one workload: when each was created, became
//     ready and got its first metric, and what it uses under a given demand.
//   - Twin joins the two for one HPA and is what a load model drives, one
//     Step per sync period; Replay runs a Twin over a recorded demand.
//
// Nothing here reads the wall clock: every time comes from the caller.
//
// Around it: package model holds the cost profile, the journeys' call graph
// and the queueing estimate; package platform drives one Twin per
// Deployment of a rendered overlay under a scenario's load and checks the
// scenario's hpa expectations; package report writes the HTML report and
// the JUnit file (`shoplab hpa simulate` and `check`).
package hpa
