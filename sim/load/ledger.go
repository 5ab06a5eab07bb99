package load

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/shopclient"
)

// Outcome is what the client learned of an order attempt. The values are
// the ones sim/reconcile's ledger uses.
type Outcome string

// Outcomes of an order attempt.
const (
	// OutcomeCreated: 201 with a PAID order.
	OutcomeCreated Outcome = "created"
	// OutcomeDeclined: 402, the card was declined and the order FAILED.
	OutcomeDeclined Outcome = "declined"
	// OutcomeRejected: the order was refused or FAILED for good (400, 401,
	// 404, 409, 413, 415, 422, or a 503 for an order that FAILED because
	// payment was unavailable); retrying the key cannot change it.
	OutcomeRejected Outcome = "rejected"
	// OutcomeUnknown: no final answer (a timeout, a transport error, a 5xx
	// without an order, a 202 PENDING); the order may or may not exist.
	OutcomeUnknown Outcome = "unknown"
)

// OrderAttempt is one intended order as the client saw it: one
// Idempotency-Key, one body, however many requests it took.
type OrderAttempt struct {
	Key         string                  `json:"key"`
	Journey     string                  `json:"journey"`
	Customer    string                  `json:"customer"`
	Request     shopclient.OrderRequest `json:"request"`
	Outcome     Outcome                 `json:"outcome"`
	OrderID     string                  `json:"order_id,omitempty"`     // when an answer carried the order
	OrderStatus string                  `json:"order_status,omitempty"` // PAID, PENDING, FAILED, when known
	HTTPStatus  int                     `json:"http_status"`            // of the last answer; 0 when none arrived
	Code        string                  `json:"code,omitempty"`         // error code of the last answer
	Error       string                  `json:"error,omitempty"`        // the last failure, while unknown
	Requests    int                     `json:"requests"`               // requests sent with this key
	Settled     bool                    `json:"settled"`                // Settle sent at least one of them
}

type ledgerEntry struct {
	OrderAttempt
	cust *customer
	iter int64 // orders the ledger by schedule position, not by finishing time
}

// ledger holds every order attempt of a run.
type ledger struct {
	mu      sync.Mutex
	entries []*ledgerEntry
}

func (l *ledger) open(key, journey string, c *customer, req shopclient.OrderRequest, iter int64) *ledgerEntry {
	e := &ledgerEntry{OrderAttempt: OrderAttempt{Key: key, Journey: journey, Customer: c.email, Request: req, Outcome: OutcomeUnknown}, cust: c, iter: iter}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	return e
}

// answer enters the result of sending e's key n more times, the last answer
// being (res, err), and returns a copy of the entry.
func (l *ledger) answer(e *ledgerEntry, res shopclient.OrderResult, err error, n int, settling bool) OrderAttempt {
	out := classifyOrder(res, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Requests += n
	e.Settled = e.Settled || settling
	e.Outcome = out
	e.HTTPStatus, e.Code, e.Error = res.Status, "", ""
	var ae *shopclient.APIError
	if errors.As(err, &ae) {
		e.HTTPStatus, e.Code = ae.Status, ae.Code
	}
	if res.Order.ID != "" {
		e.OrderID, e.OrderStatus = res.Order.ID, res.Order.Status
	}
	if out == OutcomeUnknown {
		switch {
		case err != nil:
			e.Error = err.Error()
		default:
			e.Error = fmt.Sprintf("HTTP %d with order status %q", res.Status, res.Order.Status)
		}
	}
	return e.OrderAttempt
}

// count adds n requests to e whose answers were not usable.
func (l *ledger) count(e *ledgerEntry, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Requests += n
	e.Settled = true
}

func (l *ledger) sorted() []*ledgerEntry {
	l.mu.Lock()
	out := append([]*ledgerEntry(nil), l.entries...)
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].iter != out[j].iter {
			return out[i].iter < out[j].iter
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func (l *ledger) attempts() []OrderAttempt {
	es := l.sorted()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]OrderAttempt, len(es))
	for i, e := range es {
		out[i] = e.OrderAttempt
	}
	return out
}

// classifyOrder reads one answer to POST /api/v1/orders the way the API
// documents it.
func classifyOrder(res shopclient.OrderResult, err error) Outcome {
	if err == nil {
		if res.Status == http.StatusCreated && res.Order.Status == "PAID" && res.Order.ID != "" {
			return OutcomeCreated
		}
		// 202 PENDING: the order exists but its outcome is not settled.
		return OutcomeUnknown
	}
	var ae *shopclient.APIError
	if !errors.As(err, &ae) {
		// A timeout or a broken connection says nothing about the order.
		return OutcomeUnknown
	}
	switch st := ae.Status; {
	case st == http.StatusPaymentRequired:
		return OutcomeDeclined
	case st == http.StatusServiceUnavailable && failedForGood(res, ae):
		return OutcomeRejected
	case st >= 500, st == http.StatusRequestTimeout, st == http.StatusTooManyRequests:
		return OutcomeUnknown
	default:
		// 400, 401, 404, 409, 413, 415, 422: the request was refused, or the
		// order FAILED for a reason a retry of the same key cannot change.
		return OutcomeRejected
	}
}

// failedForGood tells a 503 for an order that FAILED (payment or another
// unit was unavailable while it was placed; retrying the key replays the
// failure) from a 503 of an order unit that could not be reached (nothing
// was recorded, a retry may succeed). The gateway marks replays with
// Idempotent-Replayed, so the second answer for a FAILED order always says
// so; an order body with status FAILED or a failure code as the error code
// say so on the first answer.
func failedForGood(res shopclient.OrderResult, ae *shopclient.APIError) bool {
	return res.Replayed || res.Order.Status == "FAILED" || ae.Code == "payment_unavailable" || ae.Code == "dependency_unavailable"
}

// SettleReport summarises a Settle.
type SettleReport struct {
	Unknown    int // attempts whose outcome was unknown when Settle started
	Resolved   int // of those, attempts that now have a final outcome
	Unresolved int // of those, attempts still unknown
	Requests   int // requests Settle sent
}

// Settle learns the outcome of every order attempt left unknown by the run,
// as a careful client would: it sends the same Idempotency-Key with the
// same body again, with bounded retries, exponential backoff with jitter and
// an overall deadline (see WithSettlePolicy). The gateway answers a retried
// key with the first outcome, or with where a PENDING order stands now. An
// attempt that still has no answer stays unknown. It returns an error only
// when ctx ends or Run has not finished.
func (r *Runner) Settle(ctx context.Context) (SettleReport, error) {
	r.mu.Lock()
	st := r.state
	r.mu.Unlock()
	if st != stateDone {
		return SettleReport{}, errors.New("load: Settle before Run has returned")
	}
	r.settling.Lock()
	defer r.settling.Unlock()
	pol := r.settle
	sctx, cancel := context.WithTimeout(ctx, pol.Timeout)
	defer cancel()

	var todo []*ledgerEntry
	r.ledger.mu.Lock()
	for _, e := range r.ledger.entries {
		if e.Outcome == OutcomeUnknown {
			todo = append(todo, e)
		}
	}
	r.ledger.mu.Unlock()
	sort.Slice(todo, func(i, j int) bool { return todo[i].Key < todo[j].Key })

	rep := SettleReport{Unknown: len(todo)}
	var mu sync.Mutex
	work := make(chan *ledgerEntry)
	var wg sync.WaitGroup
	for range min(pol.Concurrency, len(todo)) {
		wg.Go(func() {
			for e := range work {
				sent, resolved := r.settleOne(sctx, e, pol)
				mu.Lock()
				rep.Requests += sent
				if resolved {
					rep.Resolved++
				}
				mu.Unlock()
			}
		})
	}
	for _, e := range todo {
		select {
		case work <- e:
		case <-sctx.Done():
		}
	}
	close(work)
	wg.Wait()
	rep.Unresolved = rep.Unknown - rep.Resolved
	return rep, ctx.Err()
}

// settleOne retries e's key until the answer is final or the policy gives
// up, and reports how many requests it sent and whether e is now final.
func (r *Runner) settleOne(ctx context.Context, e *ledgerEntry, pol SettlePolicy) (sent int, resolved bool) {
	// Jitter spreads the retries of many attempts; seeding it by the key
	// keeps a settle reproducible.
	h := fnv.New64a()
	h.Write([]byte(e.Key))
	rng := rand.New(rand.NewPCG(r.seed, h.Sum64()))
	backoff := pol.Backoff
	for try := 0; try < pol.Attempts; try++ {
		if try > 0 {
			wait := backoff/2 + time.Duration(rng.Int64N(int64(backoff/2)+1))
			backoff = min(2*backoff, pol.MaxBackoff)
			if r.clock.SleepUntil(ctx, r.clock.Now().Add(wait)) != nil {
				return sent, false
			}
		}
		tok, err := r.customerToken(ctx, e.cust, nil)
		if err != nil {
			continue // the login failed the way the order might: try again later
		}
		res, err := r.client.CreateOrder(ctx, *tok, e.Key, e.Request)
		n := 1
		if StatusOf(err) == http.StatusUnauthorized {
			// The token expired while the run went on; log in again and retry
			// at once, the refusal said nothing about the order.
			if tok, err = r.customerToken(ctx, e.cust, tok); err != nil {
				sent++
				r.ledger.count(e, 1)
				continue
			}
			res, err = r.client.CreateOrder(ctx, *tok, e.Key, e.Request)
			n++
		}
		sent += n
		if ctx.Err() != nil {
			// Cut short by the deadline: the answer is not an answer.
			r.ledger.count(e, n)
			return sent, false
		}
		if r.ledger.answer(e, res, err, n, true).Outcome != OutcomeUnknown {
			return sent, true
		}
	}
	return sent, false
}

// customerToken is the unrecorded login used outside the load (Prepare,
// Settle).
func (r *Runner) customerToken(ctx context.Context, c *customer, stale *string) (*string, error) {
	if t := c.token.Load(); t != nil && t != stale {
		return t, nil
	}
	return c.login(ctx, stale, func(ctx context.Context) (string, error) {
		s, err := r.client.Login(ctx, c.email, c.password)
		return s.Token, err
	})
}

// Orders returns every order attempt of the run, in schedule order.
func (r *Runner) Orders() []OrderAttempt { return r.ledger.attempts() }

// Ledger returns what the clients saw of their orders, for sim/reconcile.
func (r *Runner) Ledger() []reconcile.Seen {
	atts := r.ledger.attempts()
	out := make([]reconcile.Seen, len(atts))
	for i, a := range atts {
		out[i] = reconcile.Seen{OrderID: a.OrderID, Key: a.Key, Outcome: string(a.Outcome)}
	}
	return out
}
