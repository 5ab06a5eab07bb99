package model

import "math"

// Queue is an M/M/c queue: Poisson arrivals, Servers identical servers with
// exponential service times, one first-come-first-served line. The twin
// models a Deployment's CPU this way (see the platform package for how
// servers and rates come from the pods' CPU limits).
type Queue struct {
	Servers int
	// ServiceRate is what one server completes per second (1 / mean service time).
	ServiceRate float64
	// ArrivalRate is the requests per second offered to the whole queue.
	ArrivalRate float64
}

// Utilization returns the servers' busy fraction, λ / (c μ); 1 or more means
// the queue grows without bound.
func (q Queue) Utilization() float64 {
	if q.Servers <= 0 || q.ServiceRate <= 0 {
		return math.Inf(1)
	}
	return q.ArrivalRate / (float64(q.Servers) * q.ServiceRate)
}

// Stable reports whether the queue reaches a steady state.
func (q Queue) Stable() bool { return q.Utilization() < 1 }

// WaitProbability returns the probability that an arriving request waits
// (Erlang's C formula); 1 for an unstable queue.
func (q Queue) WaitProbability() float64 {
	if !q.Stable() {
		return 1
	}
	if q.ArrivalRate <= 0 {
		return 0
	}
	// Erlang B by its recurrence, which neither overflows nor loses
	// precision for large c, then C from B.
	a := q.ArrivalRate / q.ServiceRate
	b := 1.0
	for k := 1; k <= q.Servers; k++ {
		b = a * b / (float64(k) + a*b)
	}
	rho := q.Utilization()
	return b / (1 - rho*(1-b))
}

// MeanResponse returns the mean time in the system (wait plus service) in
// seconds; +Inf for an unstable queue.
func (q Queue) MeanResponse() float64 {
	if !q.Stable() {
		return math.Inf(1)
	}
	c := float64(q.Servers)
	return q.WaitProbability()/(c*q.ServiceRate-q.ArrivalRate) + 1/q.ServiceRate
}

// responseTail returns P(T > t) for the response time T = W + S: with
// probability 1-C a request does not wait and T is its exponential service
// time; otherwise it waits an exponential time of rate θ = cμ - λ first, and
// T is the sum of two exponentials (a hypoexponential).
func (q Queue) responseTail(t, pWait float64) float64 {
	mu := q.ServiceRate
	theta := float64(q.Servers)*mu - q.ArrivalRate
	noWait := math.Exp(-mu * t)
	var sum float64
	if math.Abs(mu-theta) < 1e-9*mu {
		sum = (1 + mu*t) * math.Exp(-mu*t)
	} else {
		sum = (mu*math.Exp(-theta*t) - theta*math.Exp(-mu*t)) / (mu - theta)
	}
	return (1-pWait)*noWait + pWait*sum
}

// ResponseQuantile returns the p-quantile (0 < p < 1) of the time in the
// system, in seconds; +Inf for an unstable queue.
func (q Queue) ResponseQuantile(p float64) float64 {
	if !q.Stable() || !(p > 0 && p < 1) {
		return math.Inf(1)
	}
	pWait := q.WaitProbability()
	target := 1 - p
	// The tail falls monotonically from 1; bracket the answer, then bisect.
	hi := 1 / q.ServiceRate
	for q.responseTail(hi, pWait) > target {
		hi *= 2
	}
	lo := 0.0
	for range 60 {
		mid := (lo + hi) / 2
		if q.responseTail(mid, pWait) > target {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-7*hi {
			break
		}
	}
	return (lo + hi) / 2
}
