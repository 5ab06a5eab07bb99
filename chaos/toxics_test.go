package chaos

import (
	"errors"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestPlanToxiproxy(t *testing.T) {
	p, err := PlanToxiproxy(Fault{Target: "order->payment", Type: Latency, Direction: "both",
		Attributes: map[string]any{"latency": "300ms", "jitter": "30ms"}}, "f1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Proxy != "order->payment" || p.Disable || len(p.Toxics) != 2 {
		t.Fatalf("plan = %+v", p)
	}
	for i, stream := range []string{"upstream", "downstream"} {
		tx := p.Toxics[i]
		if tx.Stream != stream || tx.Type != "latency" || tx.Name != "chaos-f1-"+stream || tx.Toxicity != 1 ||
			tx.Attributes["latency"] != int64(300) || tx.Attributes["jitter"] != int64(30) {
			t.Errorf("toxic %d = %+v", i, tx)
		}
	}
	down, err := PlanToxiproxy(Fault{Target: "order->kafka", Type: Down, Duration: time.Second}, "f2")
	if err != nil || !down.Disable || len(down.Toxics) != 0 || down.Proxy != "order->kafka" {
		t.Errorf("down plan = %+v, %v", down, err)
	}
	var e *errs.Error
	if _, err := PlanToxiproxy(Fault{Target: "product", Type: Kill}, "f3"); !errors.As(err, &e) || e.Code != errs.FailedPrecondition {
		t.Errorf("kill: %v, want failed_precondition", err)
	}
	if _, err := PlanToxiproxy(Fault{Target: "order->payment", Type: Latency}, "f4"); !errors.As(err, &e) || e.Code != errs.Invalid {
		t.Errorf("latency without its attribute: %v, want invalid_argument", err)
	}
}
