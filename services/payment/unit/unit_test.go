package unit_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/payment/unit"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
)

// startUnit runs a payment unit on free loopback ports until the test
// ends and checks that Run then returns cleanly.
func startUnit(t *testing.T, cfg unit.Config) *unit.Unit {
	t.Helper()
	u, err := unit.New(t.Context(), cfg, unit.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runUnit(t, u)
	return u
}

// runUnit runs u until the test ends and checks that Run then returns
// cleanly.
func runUnit(t *testing.T, u *unit.Unit) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10 s of cancellation")
		}
		if err := u.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func testConfig(t *testing.T) unit.Config {
	return unit.Config{GRPCAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", DataDir: t.TempDir(), Seed: 42}
}

func dial(t *testing.T, addr string) pb.PaymentServiceClient {
	t.Helper()
	conn, err := grpcx.Dial(addr, grpcx.ClientOptions{Target: "payment"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pb.NewPaymentServiceClient(conn)
}

func process(order, token string) *pb.ProcessPaymentRequest {
	return &pb.ProcessPaymentRequest{OrderId: order, UserId: "user-7", AmountCents: 1999, PaymentToken: token}
}

func TestPaymentServiceOverGRPC(t *testing.T) {
	u := startUnit(t, testConfig(t))
	c := dial(t, u.GRPCAddr())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	resp, err := c.ProcessPayment(ctx, process("order-1", "tok_visa"))
	if err != nil {
		t.Fatalf("ProcessPayment: %v", err)
	}
	p := resp.GetPayment()
	if p.GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_CAPTURED || p.GetCurrency() != "USD" || p.GetAmountCents() != 1999 ||
		p.GetUserId() != "user-7" || !strings.HasPrefix(p.GetProcessorChargeId(), "ch_") || p.GetProcessorCharges() != 1 ||
		p.GetId() == "" || p.GetCreatedAt() == nil || p.GetUpdatedAt() == nil {
		t.Fatalf("captured payment %v", p)
	}
	again, err := c.ProcessPayment(ctx, process("order-1", "tok_visa"))
	if err != nil || again.GetPayment().GetId() != p.GetId() || again.GetPayment().GetProcessorCharges() != 1 {
		t.Fatalf("repeat = %v, %v", again, err)
	}

	declined, err := c.ProcessPayment(ctx, process("order-2", "tok_chargeDeclined"))
	if err != nil || declined.GetPayment().GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_DECLINED ||
		declined.GetPayment().GetDeclineCode() != "card_declined" || declined.GetPayment().GetProcessorChargeId() != "" {
		t.Fatalf("decline = %v, %v; want a DECLINED payment, not an error", declined, err)
	}

	_, err = c.ProcessPayment(ctx, process("order-3", "tok_processingError"))
	if !errs.Is(err, errs.Unavailable) {
		t.Errorf("processing error: %v, want Unavailable", err)
	}
	_, err = c.ProcessPayment(ctx, process("order-3", "tok_what"))
	if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "payment_token" {
		t.Errorf("unknown token: %v, want Invalid on payment_token", err)
	}
	_, err = c.ProcessPayment(ctx, &pb.ProcessPaymentRequest{OrderId: "order-4", AmountCents: 0})
	if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "amount_cents" {
		t.Errorf("zero amount: %v, want Invalid on amount_cents", err)
	}
	if _, err := c.GetPayment(ctx, &pb.GetPaymentRequest{OrderId: "order-3"}); !errs.Is(err, errs.NotFound) {
		t.Errorf("GetPayment after a failed attempt: %v, want NotFound", err)
	}

	void, err := c.Refund(ctx, &pb.RefundRequest{OrderId: "order-5", Reason: "timed out"})
	if err != nil || void.GetPayment().GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_VOIDED {
		t.Fatalf("Refund of an unpaid order = %v, %v", void, err)
	}
	_, err = c.ProcessPayment(ctx, process("order-5", "tok_visa"))
	if !errs.Is(err, errs.FailedPrecondition) {
		t.Errorf("late charge of a voided order: %v, want FailedPrecondition", err)
	}
	refund, err := c.Refund(ctx, &pb.RefundRequest{OrderId: "order-1"})
	if err != nil || refund.GetPayment().GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_REFUNDED {
		t.Fatalf("Refund = %v, %v", refund, err)
	}

	// Reconciliation's view: every payment, paged, with charge counts.
	var listed []*pb.Payment
	cursor := ""
	for range 10 {
		page, err := c.ListPayments(ctx, &pb.ListPaymentsRequest{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatalf("ListPayments: %v", err)
		}
		listed = append(listed, page.GetPayments()...)
		if cursor = page.GetNextCursor(); cursor == "" {
			break
		}
	}
	byOrder := map[string]*pb.Payment{}
	for _, p := range listed {
		byOrder[p.GetOrderId()] = p
	}
	want := map[string]struct {
		status  pb.PaymentStatus
		charges int32
	}{
		"order-1": {pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, 1},
		"order-2": {pb.PaymentStatus_PAYMENT_STATUS_DECLINED, 0},
		"order-3": {pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED, 0}, // attempted, never charged
		"order-5": {pb.PaymentStatus_PAYMENT_STATUS_VOIDED, 0},
	}
	if len(listed) != len(want) {
		t.Fatalf("listed %d payments, want %d: %v", len(listed), len(want), listed)
	}
	for order, w := range want {
		if got := byOrder[order]; got.GetStatus() != w.status || got.GetProcessorCharges() != w.charges {
			t.Errorf("%s listed as %v with %d charges, want %v with %d", order, got.GetStatus(), got.GetProcessorCharges(), w.status, w.charges)
		}
	}
	if _, err := c.ListPayments(ctx, &pb.ListPaymentsRequest{Limit: 1000}); errs.FieldOf(err) != "limit" {
		t.Errorf("limit 1000: %v, want Invalid on limit", err)
	}

	if body := httpGet(t, "http://"+u.OpsAddr()+"/readyz", http.StatusOK); !strings.Contains(body, "ready") {
		t.Errorf("/readyz body %q", body)
	}
	metrics := httpGet(t, "http://"+u.OpsAddr()+"/metrics", http.StatusOK)
	for _, want := range []string{
		`shoplab_payments_total{outcome="captured",unit="payment"} 1`,
		`shoplab_payments_total{outcome="declined",unit="payment"} 1`,
		`shoplab_payments_total{outcome="error",unit="payment"} 2`,
		`shoplab_payment_refunds_total{result="voided",unit="payment"} 1`,
		`shoplab_payment_processor_duration_seconds_count{operation="charge",result="captured",unit="payment"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestConcurrentCallsOverGRPCChargeOnce(t *testing.T) {
	cfg := testConfig(t)
	cfg.ProcessorLatency, cfg.ProcessorJitter = 10*time.Millisecond, 10*time.Millisecond
	u := startUnit(t, cfg)
	c := dial(t, u.GRPCAddr())
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			resp, err := c.ProcessPayment(t.Context(), process("order-1", "tok_visa"))
			if err != nil || resp.GetPayment().GetProcessorCharges() != 1 {
				t.Errorf("call %d: %v, %v", i, resp, err)
			}
		})
	}
	wg.Wait()
	list, err := c.ListPayments(t.Context(), &pb.ListPaymentsRequest{})
	if err != nil || len(list.GetPayments()) != 1 || list.GetPayments()[0].GetProcessorCharges() != 1 {
		t.Fatalf("ListPayments = %v, %v; want one payment with one charge", list, err)
	}
}

func TestProcessorLatencyAndClientDeadline(t *testing.T) {
	cfg := testConfig(t)
	cfg.ProcessorLatency = 300 * time.Millisecond
	u := startUnit(t, cfg)
	c := dial(t, u.GRPCAddr())
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.ProcessPayment(short, process("order-1", "tok_visa"), grpc.WaitForReady(true))
	if !errs.Is(err, errs.DeadlineExceeded) {
		t.Fatalf("call shorter than the processor latency: %v, want DeadlineExceeded", err)
	}
	// The abandoned attempt charged nothing, so the retry is the one charge.
	start := time.Now()
	resp, err := c.ProcessPayment(t.Context(), process("order-1", "tok_visa"))
	if err != nil || resp.GetPayment().GetProcessorCharges() != 1 {
		t.Fatalf("retry = %v, %v", resp, err)
	}
	if d := time.Since(start); d < cfg.ProcessorLatency {
		t.Errorf("charge took %v, want at least the configured %v", d, cfg.ProcessorLatency)
	}
}

func TestRestartKeepsPaymentsAndLedger(t *testing.T) {
	cfg := testConfig(t)
	first, err := unit.New(t.Context(), cfg, unit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	c := dial(t, first.GRPCAddr())
	paid, err := c.ProcessPayment(t.Context(), process("order-1", "tok_visa"))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil { // as sim/cloud kills a unit
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	cfg.GRPCAddr, cfg.OpsAddr = first.GRPCAddr(), first.OpsAddr()
	second := startUnit(t, cfg)
	c2 := dial(t, second.GRPCAddr())
	got, err := c2.ProcessPayment(t.Context(), process("order-1", "tok_visa"), grpc.WaitForReady(true))
	if err != nil || got.GetPayment().GetId() != paid.GetPayment().GetId() || got.GetPayment().GetProcessorCharges() != 1 {
		t.Fatalf("after restart = %v, %v; want the stored payment, still one charge", got, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := unit.New(t.Context(), unit.Config{GRPCAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0"}, unit.Deps{}); err == nil {
		t.Error("New without DataDir succeeded")
	}
	cfg := testConfig(t)
	cfg.ProcessorLatency = -time.Second
	if _, err := unit.New(t.Context(), cfg, unit.Deps{}); err == nil {
		t.Error("New with negative latency succeeded")
	}
	cfg = testConfig(t)
	cfg.GRPCAddr = "256.0.0.1:1"
	if _, err := unit.New(t.Context(), cfg, unit.Deps{}); err == nil {
		t.Error("New with an unusable address succeeded")
	}
}

func httpGet(t *testing.T, url string, want int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d %s, want %d", url, resp.StatusCode, b, want)
	}
	return string(b)
}
