// Package reconcile checks the invariants that matter after a run: no order
// lost, none charged twice, one email each, stock consistent and analytics
// that add up. It compares what the clients saw (a ledger) with the
// system's own state, read over its real APIs.
package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/shoplab/shoplab/services/api/events"
)

// Invariant names, as scenario files spell them.
const (
	NoLostOrders        = "no_lost_orders"
	NoDuplicateCharges  = "no_duplicate_charges"
	OneEmailPerOrder    = "one_email_per_order"
	StockConsistent     = "stock_consistent"
	AnalyticsReconciles = "analytics_reconciles"
)

// All lists every invariant in the order they are checked.
var All = []string{NoLostOrders, NoDuplicateCharges, OneEmailPerOrder, StockConsistent, AnalyticsReconciles}

// Order is the system's record of an order.
type Order struct {
	ID     string
	UserID string
	Status string // PENDING, PAID, FAILED
	Items  map[string]int64
}

// Payment is the payment unit's record of an order's payment.
type Payment struct {
	OrderID          string
	Status           string // CAPTURED, DECLINED, REFUNDED, VOIDED
	ProcessorCharges int
}

// StockLine is one product's stock ledger.
type StockLine struct {
	ProductID                    string
	Initial, Available, Reserved int64
}

// Email is one sent email.
type Email struct {
	OrderID string
	To      string
}

// State is the system's state at the end of a run.
type State struct {
	Orders   []Order
	Payments []Payment
	Stock    []StockLine
	Emails   []Email
	Windows  []events.WindowResult
}

// Source reads the system's state.
type Source interface {
	State(ctx context.Context) (State, error)
}

// Seen is what a client saw of an order it placed.
type Seen struct {
	OrderID string // empty when the client never learned an id
	Key     string // Idempotency-Key
	Outcome string // "created" (2xx with an id), "declined", "rejected", "unknown"
}

// Result is one invariant's verdict.
type Result struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Check evaluates the named invariants (All when names is empty) against
// state and the client ledger.
func Check(state State, ledger []Seen, names []string) []Result {
	if len(names) == 0 {
		names = All
	}
	byID := make(map[string]Order, len(state.Orders))
	for _, o := range state.Orders {
		byID[o.ID] = o
	}
	paid := map[string]Order{}
	for _, o := range state.Orders {
		if o.Status == "PAID" {
			paid[o.ID] = o
		}
	}
	var out []Result
	for _, n := range names {
		var r Result
		switch n {
		case NoLostOrders:
			r = checkLost(byID, ledger)
		case NoDuplicateCharges:
			r = checkCharges(state, byID)
		case OneEmailPerOrder:
			r = checkEmails(state, byID)
		case StockConsistent:
			r = checkStock(state)
		case AnalyticsReconciles:
			r = checkAnalytics(state, paid)
		default:
			r = Result{OK: false, Detail: "unknown invariant"}
		}
		r.Name = n
		out = append(out, r)
	}
	return out
}

// OK reports whether every result holds.
func OK(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}

type problems struct {
	n    int
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.list) < 5 {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *problems) result(okDetail string) Result {
	if p.n == 0 {
		return Result{OK: true, Detail: okDetail}
	}
	d := fmt.Sprintf("%d problem(s): %s", p.n, strings.Join(p.list, "; "))
	if p.n > len(p.list) {
		d += "; ..."
	}
	return Result{Detail: d}
}

func checkLost(byID map[string]Order, ledger []Seen) Result {
	var p problems
	created := 0
	for _, s := range ledger {
		if s.Outcome != "created" && s.OrderID == "" {
			continue
		}
		if s.OrderID == "" {
			p.add("key %s: created without an order id", s.Key)
			continue
		}
		created++
		o, ok := byID[s.OrderID]
		switch {
		case !ok:
			p.add("order %s (key %s) is missing", s.OrderID, s.Key)
		case o.Status == "PENDING":
			p.add("order %s is stuck PENDING", o.ID)
		case o.Status != "PAID" && o.Status != "FAILED":
			p.add("order %s has status %s", o.ID, o.Status)
		}
	}
	for _, o := range byID {
		if o.Status == "PENDING" {
			p.add("order %s is stuck PENDING", o.ID)
		}
	}
	return p.result(fmt.Sprintf("%d orders seen by clients, all settled; %d orders in the system", created, len(byID)))
}

func checkCharges(state State, byID map[string]Order) Result {
	var p problems
	pays := map[string][]Payment{}
	for _, pm := range state.Payments {
		pays[pm.OrderID] = append(pays[pm.OrderID], pm)
	}
	paidCount := 0
	for _, o := range byID {
		ps := pays[o.ID]
		captured, charges := 0, 0
		for _, pm := range ps {
			if pm.Status == "CAPTURED" {
				captured++
			}
			charges += pm.ProcessorCharges
		}
		switch o.Status {
		case "PAID":
			paidCount++
			if captured != 1 || charges != 1 {
				p.add("paid order %s has %d captured payment(s), %d processor charge(s)", o.ID, captured, charges)
			}
		case "FAILED":
			if captured != 0 {
				p.add("failed order %s still has a captured payment", o.ID)
			}
		}
	}
	for id, ps := range pays {
		if _, ok := byID[id]; !ok {
			for _, pm := range ps {
				if pm.Status == "CAPTURED" {
					p.add("captured payment for unknown order %s", id)
				}
			}
		}
	}
	return p.result(fmt.Sprintf("%d paid orders, each charged exactly once", paidCount))
}

func checkEmails(state State, byID map[string]Order) Result {
	var p problems
	count := map[string]int{}
	for _, e := range state.Emails {
		count[e.OrderID]++
	}
	paidCount := 0
	for _, o := range byID {
		n := count[o.ID]
		switch {
		case o.Status == "PAID":
			paidCount++
			if n != 1 {
				p.add("paid order %s has %d email(s)", o.ID, n)
			}
		case n != 0:
			p.add("%s order %s has %d email(s)", strings.ToLower(o.Status), o.ID, n)
		}
	}
	for id, n := range count {
		if _, ok := byID[id]; !ok {
			p.add("%d email(s) for unknown order %s", n, id)
		}
	}
	return p.result(fmt.Sprintf("%d paid orders, one email each", paidCount))
}

func checkStock(state State) Result {
	var p problems
	sold := map[string]int64{}
	for _, o := range state.Orders {
		if o.Status == "PAID" || o.Status == "PENDING" {
			for pid, q := range o.Items {
				sold[pid] += q
			}
		}
	}
	var totalReserved int64
	for _, s := range state.Stock {
		totalReserved += s.Reserved
		if s.Available < 0 {
			p.add("product %s has negative stock %d", s.ProductID, s.Available)
		}
		if s.Available+s.Reserved != s.Initial {
			p.add("product %s: available %d + reserved %d != initial %d", s.ProductID, s.Available, s.Reserved, s.Initial)
		}
		if s.Reserved != sold[s.ProductID] {
			p.add("product %s: %d units reserved but paid orders hold %d", s.ProductID, s.Reserved, sold[s.ProductID])
		}
		delete(sold, s.ProductID)
	}
	for pid, q := range sold {
		p.add("paid orders hold %d units of unknown product %s", q, pid)
	}
	return p.result(fmt.Sprintf("%d products; %d units held by paid orders", len(state.Stock), totalReserved))
}

func checkAnalytics(state State, paid map[string]Order) Result {
	var p problems
	seen := map[string]int{}
	var counted int64
	for _, w := range state.Windows {
		counted += w.OrderCount
		if int64(len(w.OrderIDs)) != w.OrderCount {
			p.add("window %s counts %d orders but lists %d", w.WindowStart.Format("15:04:05"), w.OrderCount, len(w.OrderIDs))
		}
		for _, id := range w.OrderIDs {
			seen[id]++
		}
	}
	var missing []string
	for id := range paid {
		switch seen[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			p.add("order %s counted %d times", id, seen[id])
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		p.add("%d paid order(s) in no closed window (first: %s)", len(missing), missing[0])
	}
	for id := range seen {
		if _, ok := paid[id]; !ok {
			p.add("window counts order %s which is not paid", id)
		}
	}
	return p.result(fmt.Sprintf("%d paid orders counted once across %d closed windows (%d orders counted)", len(paid), len(state.Windows), counted))
}
