package reconcile_test

import (
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/sim/reconcile"
)

// healthy is a consistent end state: o1 paid, o2 failed and compensated.
func healthy() (reconcile.State, []reconcile.Seen) {
	st := reconcile.State{
		Orders: []reconcile.Order{
			{ID: "o1", Status: "PAID", Items: map[string]int64{"p1": 2}},
			{ID: "o2", Status: "FAILED", Items: map[string]int64{"p1": 1}},
		},
		Payments: []reconcile.Payment{
			{OrderID: "o1", Status: "CAPTURED", ProcessorCharges: 1},
			{OrderID: "o2", Status: "DECLINED"},
		},
		Stock:   []reconcile.StockLine{{ProductID: "p1", Initial: 10, Available: 8, Reserved: 2}},
		Emails:  []reconcile.Email{{OrderID: "o1", To: "a@b.c"}},
		Windows: []events.WindowResult{{OrderCount: 1, OrderIDs: []string{"o1"}}},
	}
	ledger := []reconcile.Seen{{OrderID: "o1", Key: "k1", Outcome: "created"}, {Key: "k2", Outcome: "declined"}}
	return st, ledger
}

func TestCheckHealthy(t *testing.T) {
	st, ledger := healthy()
	for _, r := range reconcile.Check(st, ledger, nil) {
		if !r.OK {
			t.Errorf("%s failed on a healthy state: %s", r.Name, r.Detail)
		}
	}
}

// TestCheckCatchesBreakage breaks the healthy state one way at a time and
// requires exactly the matching invariant to fail.
func TestCheckCatchesBreakage(t *testing.T) {
	tests := []struct {
		name      string
		breakIt   func(*reconcile.State, *[]reconcile.Seen)
		invariant string
		detail    string
	}{
		{"lost order", func(s *reconcile.State, l *[]reconcile.Seen) {
			*l = append(*l, reconcile.Seen{OrderID: "o9", Key: "k9", Outcome: "created"})
		}, reconcile.NoLostOrders, "o9"},
		{"stuck pending", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Orders[0].Status = "PENDING"
		}, reconcile.NoLostOrders, "PENDING"},
		{"double charge", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Payments[0].ProcessorCharges = 2
		}, reconcile.NoDuplicateCharges, "2 processor charge"},
		{"failed but captured", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Payments[1].Status = "CAPTURED"
		}, reconcile.NoDuplicateCharges, "o2"},
		{"duplicate email", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Emails = append(s.Emails, reconcile.Email{OrderID: "o1"})
		}, reconcile.OneEmailPerOrder, "2 email"},
		{"missing email", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Emails = nil
		}, reconcile.OneEmailPerOrder, "0 email"},
		{"stock leak", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Stock[0].Available = 7
		}, reconcile.StockConsistent, "initial"},
		{"unreleased reservation", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Stock[0].Available, s.Stock[0].Reserved = 7, 3
		}, reconcile.StockConsistent, "3 units reserved"},
		{"order counted twice", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Windows = append(s.Windows, events.WindowResult{OrderCount: 1, OrderIDs: []string{"o1"}})
		}, reconcile.AnalyticsReconciles, "counted 2 times"},
		{"order not counted", func(s *reconcile.State, l *[]reconcile.Seen) {
			s.Windows = nil
		}, reconcile.AnalyticsReconciles, "in no closed window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ledger := healthy()
			tt.breakIt(&st, &ledger)
			for _, r := range reconcile.Check(st, ledger, nil) {
				if r.Name == tt.invariant {
					if r.OK {
						t.Fatalf("%s did not catch it", r.Name)
					}
					if !strings.Contains(r.Detail, tt.detail) {
						t.Errorf("detail %q does not mention %q", r.Detail, tt.detail)
					}
				} else if !r.OK && tt.name != "stuck pending" {
					t.Errorf("%s failed too: %s", r.Name, r.Detail)
				}
			}
		})
	}
}
