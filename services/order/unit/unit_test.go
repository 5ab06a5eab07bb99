package unit_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/internal/fakedeps"
	"github.com/shoplab/shoplab/services/order/unit"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

// newCluster starts an in-process Kafka with the orders topic, on port 0
// or on the given port.
func newCluster(t *testing.T, port ...int) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, events.TopicOrders)}
	if len(port) > 0 {
		opts = append(opts, kfake.Ports(port...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// running is a unit whose Run goroutine the test controls.
type running struct {
	*unit.Unit
	cancel context.CancelFunc
	done   chan error
	client shoplabv1.OrderServiceClient
}

// stop ends Run, waits for it and closes the unit.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	r.wait(t)
}

func (r *running) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func start(t *testing.T, cfg unit.Config, deps unit.Deps) *running {
	t.Helper()
	if deps.Metrics == nil {
		deps.Metrics = metrics.New("order", false)
	}
	u, err := unit.New(t.Context(), cfg, deps)
	if err != nil {
		t.Fatalf("unit.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Unit: u, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- u.Run(ctx) }()
	t.Cleanup(func() { cancel(); _ = u.Close() })
	waitFor(t, "readyz", func() bool {
		resp, err := http.Get("http://" + u.OpsAddr() + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cc, err := grpcx.Dial(u.GRPCAddr(), grpcx.ClientOptions{Target: "order", CallTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	r.client = shoplabv1.NewOrderServiceClient(cc)
	return r
}

func config(addrs fakedeps.Addrs, dataDir string, brokers []string) unit.Config {
	return unit.Config{
		DataDir: dataDir, UserAddr: addrs.User, ProductAddr: addrs.Product, PaymentAddr: addrs.Payment,
		KafkaBrokers: brokers, RecoveryInterval: 20 * time.Millisecond, RecoveryGrace: 50 * time.Millisecond,
		OutboxPollInterval: time.Hour, // only a commit's wake-up publishes promptly
		CallTimeout:        2 * time.Second,
	}
}

func createReq(key, token string) *shoplabv1.CreateOrderRequest {
	return &shoplabv1.CreateOrderRequest{
		UserId: "u1", PaymentToken: token, IdempotencyKey: key, RequestHash: "hash-" + key,
		Items: []*shoplabv1.OrderLine{{ProductId: "p1", Quantity: 2}, {ProductId: "p2", Quantity: 1}},
	}
}

// readAll returns every record of the orders topic up to its current end.
func readAll(t *testing.T, brokers []string) []*sarama.ConsumerMessage {
	t.Helper()
	client, err := sarama.NewClient(brokers, kafkax.ConsumerConfig("order-unit-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = consumer.Close() }()
	parts, err := client.Partitions(events.TopicOrders)
	if err != nil {
		t.Fatal(err)
	}
	var out []*sarama.ConsumerMessage
	for _, p := range parts {
		end, err := client.GetOffset(events.TopicOrders, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if end == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(events.TopicOrders, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for m := range pc.Messages() {
			out = append(out, m)
			if m.Offset >= end-1 {
				break
			}
		}
		_ = pc.Close()
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func backlog(t *testing.T, u *unit.Unit) int {
	t.Helper()
	n, err := u.OutboxBacklog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEndToEnd(t *testing.T) {
	kc := newCluster(t)
	fakes := fakedeps.Standard()
	u := start(t, config(fakedeps.Serve(t, fakes), t.TempDir(), kc.ListenAddrs()), unit.Deps{})
	ctx := t.Context()

	resp, err := u.client.CreateOrder(ctx, createReq("k1", fakedeps.TokenVisa))
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	o := resp.GetOrder()
	if o.GetStatus() != shoplabv1.OrderStatus_ORDER_STATUS_PAID || o.GetTotalCents() != 3000 || o.GetItems()[0].GetCategory() != "books" {
		t.Fatalf("order = %v", o)
	}

	// The event arrives, keyed by the order id, without waiting for a poll.
	waitFor(t, "the outbox to drain", func() bool { return backlog(t, u.Unit) == 0 })
	msgs := readAll(t, kc.ListenAddrs())
	if len(msgs) != 1 || string(msgs[0].Key) != o.GetId() {
		t.Fatalf("topic holds %d records (first key %q), want 1 keyed %s", len(msgs), keyOf(msgs), o.GetId())
	}
	ev, err := events.DecodeOrderPlaced(msgs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if ev.OrderID != o.GetId() || ev.UserID != "u1" || ev.UserEmail != "u1@example.com" || ev.TotalCents != 3000 ||
		ev.Currency != "USD" || len(ev.Items) != 2 || ev.Items[1] != (events.LineItem{ProductID: "p2", Quantity: 1, UnitPriceCents: 500, Category: "games"}) {
		t.Fatalf("event = %+v", ev)
	}

	// Replays, reads and refusals over the wire.
	again, err := u.client.CreateOrder(ctx, createReq("k1", fakedeps.TokenVisa))
	if err != nil || !again.GetReplayed() || again.GetOrder().GetId() != o.GetId() {
		t.Fatalf("replay = %v, %v", again, err)
	}
	mismatch := createReq("k1", fakedeps.TokenVisa)
	mismatch.RequestHash = "other"
	if _, err := u.client.CreateOrder(ctx, mismatch); !errs.Is(err, errs.IdempotencyMismatch) {
		t.Fatalf("key reuse = %v", err)
	}
	bad := createReq("k2", fakedeps.TokenVisa)
	bad.Items[1].Quantity = order.MaxQuantity + 1
	_, err = u.client.CreateOrder(ctx, bad)
	if status.Code(grpcx.ToStatus(err)) != codes.InvalidArgument || errs.FieldOf(err) != "items[1].quantity" {
		t.Fatalf("invalid request = %v (field %q)", err, errs.FieldOf(err))
	}
	declined, err := u.client.CreateOrder(ctx, createReq("k3", fakedeps.TokenDeclined))
	if err != nil || declined.GetOrder().GetFailureCode() != "payment_declined" {
		t.Fatalf("declined = %v, %v", declined, err)
	}
	got, err := u.client.GetOrder(ctx, &shoplabv1.GetOrderRequest{Id: o.GetId(), UserId: "u1"})
	if err != nil || got.GetOrder().GetId() != o.GetId() {
		t.Fatalf("GetOrder = %v, %v", got, err)
	}
	if _, err := u.client.GetOrder(ctx, &shoplabv1.GetOrderRequest{Id: o.GetId(), UserId: "u2"}); status.Code(grpcx.ToStatus(err)) != codes.NotFound {
		t.Fatalf("GetOrder of another user = %v", err)
	}
	list, err := u.client.ListOrders(ctx, &shoplabv1.ListOrdersRequest{UserId: "u1", Limit: 1})
	if err != nil || len(list.GetOrders()) != 1 || list.GetOrders()[0].GetId() != declined.GetOrder().GetId() || list.GetNextCursor() == "" {
		t.Fatalf("ListOrders page 1 = %v, %v", list, err)
	}
	list, err = u.client.ListOrders(ctx, &shoplabv1.ListOrdersRequest{UserId: "u1", Limit: 1, Cursor: list.GetNextCursor()})
	if err != nil || len(list.GetOrders()) != 1 || list.GetOrders()[0].GetId() != o.GetId() || list.GetNextCursor() != "" {
		t.Fatalf("ListOrders page 2 = %v, %v", list, err)
	}
	if _, err := u.client.ListOrders(ctx, &shoplabv1.ListOrdersRequest{Status: 9}); errs.FieldOf(err) != "status" {
		t.Fatalf("ListOrders(bad status) = %v", err)
	}

	body := scrape(t, u.OpsAddr())
	for _, want := range []string{
		`shoplab_order_outbox_backlog{unit="order"} 0`,
		`shoplab_order_outbox_published_total{unit="order"} 1`,
		`shoplab_order_orders_total{outcome="paid",unit="order"} 1`,
		`shoplab_order_orders_total{outcome="payment_declined",unit="order"} 1`,
		`shoplab_order_stage_duration_seconds_count{stage="payment",unit="order"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	u.stop(t)
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricValue finds a sample in a Prometheus text exposition; 0 when absent.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("sample %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

func keyOf(msgs []*sarama.ConsumerMessage) string {
	if len(msgs) == 0 {
		return ""
	}
	return string(msgs[0].Key)
}

// killer is the chaos-style process kill of these tests, installed as a
// client interceptor by wiring: at its point it cancels the unit's Run and
// from then on every outgoing call fails, as if the process were gone.
type killer struct {
	method string // full-method suffix, e.g. "/ProcessPayment"
	after  bool   // kill after the call went through, else before
	cancel context.CancelFunc

	mu   sync.Mutex
	dead bool
}

func (k *killer) interceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		k.mu.Lock()
		dead := k.dead
		k.mu.Unlock()
		if dead {
			return status.Error(codes.Unavailable, "process killed")
		}
		hit := strings.HasSuffix(method, k.method)
		if hit && !k.after {
			k.kill()
			return status.Error(codes.Unavailable, "process killed")
		}
		err := invoker(ctx, method, req, reply, cc, opts...)
		if hit && k.after {
			k.kill()
			return status.Error(codes.Unavailable, "process killed")
		}
		return err
	}
}

func (k *killer) kill() {
	k.mu.Lock()
	k.dead = true
	k.mu.Unlock()
	k.cancel()
}

// stores are the order unit's two store adapters: SQLite in the data
// directory, and PostgreSQL (a fresh database; skipped, saying why, when
// no server is given).
var stores = []struct {
	name string
	use  func(t *testing.T, cfg *unit.Config)
}{
	{"sqlite", func(*testing.T, *unit.Config) {}},
	{"postgres", func(t *testing.T, cfg *unit.Config) { cfg.DatabaseURL = partstest.Postgres(t) }},
}

// TestCrashAndRestart kills the unit at each step of placing an order,
// starts a new unit on the same store (data directory or PostgreSQL
// database), and checks that the recovery loop ends the order PAID with
// one event (charged) or FAILED with its stock back (not charged): never
// PENDING, never charged twice.
func TestCrashAndRestart(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { testCrashAndRestart(t, st.use) })
	}
}

func testCrashAndRestart(t *testing.T, useStore func(*testing.T, *unit.Config)) {
	tests := []struct {
		name   string
		method string
		after  bool
		want   shoplabv1.OrderStatus
	}{
		{"after the insert, before reserving", "/ReserveStock", false, shoplabv1.OrderStatus_ORDER_STATUS_FAILED},
		{"after reserving, before charging", "/ReserveStock", true, shoplabv1.OrderStatus_ORDER_STATUS_FAILED},
		{"after charging, before the commit", "/ProcessPayment", true, shoplabv1.OrderStatus_ORDER_STATUS_PAID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kc := newCluster(t)
			fakes := fakedeps.Standard()
			addrs := fakedeps.Serve(t, fakes)
			dir := t.TempDir()
			cfg := config(addrs, dir, kc.ListenAddrs())
			useStore(t, &cfg)

			k := &killer{method: tc.method, after: tc.after}
			icpt := []grpc.UnaryClientInterceptor{k.interceptor()}
			deps := unit.Deps{ClientInterceptors: map[string][]grpc.UnaryClientInterceptor{
				unit.TargetUser: icpt, unit.TargetProduct: icpt, unit.TargetPayment: icpt,
			}}
			first := start(t, cfg, deps)
			k.cancel = first.cancel
			_, err := first.client.CreateOrder(t.Context(), createReq("k1", fakedeps.TokenVisa))
			if err == nil {
				t.Fatal("CreateOrder succeeded in a dying unit")
			}
			first.wait(t)

			second := start(t, cfg, unit.Deps{})
			var o *shoplabv1.Order
			waitFor(t, "recovery to settle the order", func() bool {
				resp, err := second.client.ListOrders(t.Context(), &shoplabv1.ListOrdersRequest{})
				if err != nil || len(resp.GetOrders()) != 1 {
					t.Fatalf("ListOrders = %v, %v; want the one order", resp, err)
				}
				o = resp.GetOrders()[0]
				return o.GetStatus() != shoplabv1.OrderStatus_ORDER_STATUS_PENDING
			})
			if o.GetStatus() != tc.want {
				t.Fatalf("order = %s (%s), want %s", o.GetStatus(), o.GetFailureCode(), tc.want)
			}
			waitFor(t, "the outbox to drain", func() bool { return backlog(t, second.Unit) == 0 })
			msgs := readAll(t, kc.ListenAddrs())
			charges := fakes.Payments.Charges(o.GetId())
			switch tc.want {
			case shoplabv1.OrderStatus_ORDER_STATUS_PAID:
				if charges != 1 || len(msgs) != 1 || string(msgs[0].Key) != o.GetId() || !fakes.Products.Reserved(o.GetId()) {
					t.Fatalf("PAID: charges %d, events %d, reserved %v; want 1, 1, true", charges, len(msgs), fakes.Products.Reserved(o.GetId()))
				}
			default:
				if charges != 0 || len(msgs) != 0 || fakes.Products.Stock("p1") != 10 || fakes.Products.Stock("p2") != 3 {
					t.Fatalf("FAILED: charges %d, events %d, stock %d/%d; want 0, 0, 10/3",
						charges, len(msgs), fakes.Products.Stock("p1"), fakes.Products.Stock("p2"))
				}
			}
			if err := fakes.Products.CheckStock(); err != nil {
				t.Fatal(err)
			}
			second.stop(t)
		})
	}
}

// TestBrokerOutage starts the unit while Kafka is down: orders are still
// PAID, their events wait in the outbox, and they are all published once
// the broker comes up, with no restart.
func TestBrokerOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	broker := fmt.Sprintf("127.0.0.1:%d", port)

	fakes := fakedeps.Standard()
	reg := metrics.New("order", false)
	u := start(t, config(fakedeps.Serve(t, fakes), t.TempDir(), []string{broker}), unit.Deps{Metrics: reg})
	var ids []string
	for i := range 3 {
		req := createReq(fmt.Sprintf("k%d", i), fakedeps.TokenVisa)
		req.Items = req.Items[:1]
		req.Items[0].Quantity = 1
		resp, err := u.client.CreateOrder(t.Context(), req)
		if err != nil || resp.GetOrder().GetStatus() != shoplabv1.OrderStatus_ORDER_STATUS_PAID {
			t.Fatalf("CreateOrder with Kafka down = %v, %v; want PAID", resp, err)
		}
		ids = append(ids, resp.GetOrder().GetId())
	}
	// Every attempt from now on carries the whole backlog of 3 and fails.
	const produceErrors = `shoplab_order_kafka_produce_errors_total{unit="order"}`
	before := metricValue(t, scrape(t, u.OpsAddr()), produceErrors)
	waitFor(t, "a failed publish of the backlog", func() bool {
		return metricValue(t, scrape(t, u.OpsAddr()), produceErrors) >= before+3
	})
	if n := backlog(t, u.Unit); n != 3 {
		t.Fatalf("backlog during the outage = %d, want 3", n)
	}

	kc := newCluster(t, port)
	waitFor(t, "the backlog to drain", func() bool { return backlog(t, u.Unit) == 0 })
	got := map[string]int{}
	for _, m := range readAll(t, kc.ListenAddrs()) {
		got[string(m.Key)]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("events by order = %v, want one for each of %v", got, ids)
		}
	}
	u.stop(t)
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := unit.Config{DataDir: t.TempDir(), UserAddr: "a:1", ProductAddr: "b:1", PaymentAddr: "c:1", KafkaBrokers: []string{"k:1"}}
	for field, mutate := range map[string]func(*unit.Config){
		"DataDir":      func(c *unit.Config) { c.DataDir = "" },
		"UserAddr":     func(c *unit.Config) { c.UserAddr = "" },
		"ProductAddr":  func(c *unit.Config) { c.ProductAddr = "" },
		"PaymentAddr":  func(c *unit.Config) { c.PaymentAddr = "" },
		"KafkaBrokers": func(c *unit.Config) { c.KafkaBrokers = nil },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := unit.New(t.Context(), cfg, unit.Deps{}); errs.FieldOf(err) != field {
			t.Errorf("New without %s = %v", field, err)
		}
	}
	u, err := unit.New(t.Context(), good, unit.Deps{})
	if err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("Close without Run: %v", err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestTwoReplicasOnOnePostgresPublishEachEventOnce runs two order units on
// one PostgreSQL database, as two replicas of a Deployment do, with their
// relays polling every few milliseconds so both keep reaching for the
// same outbox rows. Orders are placed through both at once; every order
// must end with exactly one event on the topic, and the outbox empty.
func TestTwoReplicasOnOnePostgresPublishEachEventOnce(t *testing.T) {
	dsn := partstest.Postgres(t)
	kc := newCluster(t)
	fakes := fakedeps.Standard()
	fakes.Products = fakedeps.NewProducts(fakedeps.Product{ID: "p1", Name: "Go Book", Category: "books", Currency: "USD", PriceCents: 1250, Stock: 1000})
	addrs := fakedeps.Serve(t, fakes)
	replicas := make([]*running, 2)
	for i := range replicas {
		cfg := config(addrs, t.TempDir(), kc.ListenAddrs())
		cfg.DatabaseURL = dsn
		cfg.OutboxPollInterval = 2 * time.Millisecond
		replicas[i] = start(t, cfg, unit.Deps{})
	}

	const perReplica = 15
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids []string
	)
	for r, u := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perReplica {
				req := createReq(fmt.Sprintf("r%d-k%d", r, i), fakedeps.TokenVisa)
				req.Items = req.Items[:1]
				req.Items[0].Quantity = 1
				resp, err := u.client.CreateOrder(t.Context(), req)
				if err != nil || resp.GetOrder().GetStatus() != shoplabv1.OrderStatus_ORDER_STATUS_PAID {
					t.Errorf("replica %d CreateOrder = %v, %v; want PAID", r, resp, err)
					return
				}
				mu.Lock()
				ids = append(ids, resp.GetOrder().GetId())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	waitFor(t, "both replicas' outbox to drain", func() bool {
		return backlog(t, replicas[0].Unit) == 0 && backlog(t, replicas[1].Unit) == 0
	})
	// A relay that published twice would have done so by now; give a
	// straggler one more poll round before counting.
	time.Sleep(50 * time.Millisecond)
	got := map[string]int{}
	for _, m := range readAll(t, kc.ListenAddrs()) {
		got[string(m.Key)]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("order %s: %d events, want 1", id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("%d orders have events, want %d", len(got), len(ids))
	}
	for _, u := range replicas {
		u.stop(t)
	}
}
