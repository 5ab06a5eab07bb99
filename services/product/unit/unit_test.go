package unit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/product/unit"
)

func testConfig(dir string) unit.Config {
	return unit.Config{GRPCAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", DataDir: dir, CatalogSeed: 1}
}

// running is a unit serving in the background.
type running struct {
	u      *unit.Unit
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned runErr
	runErr error
	client shoplabv1.ProductServiceClient
	reg    *metrics.Registry
}

// stop ends Run and returns how long it took and what it returned.
func (r *running) stop(t *testing.T) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	r.cancel()
	select {
	case <-r.done:
		return time.Since(start), r.runErr
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
		return 0, nil
	}
}

func mustRun(t *testing.T, cfg unit.Config, deps unit.Deps) *running {
	t.Helper()
	if deps.Metrics == nil {
		deps.Metrics = metrics.New(unit.Name, false)
	}
	deps.Log = logx.Discard()
	u, err := unit.New(t.Context(), cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = u.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{u: u, cancel: cancel, done: make(chan struct{}), reg: deps.Metrics}
	go func() {
		r.runErr = u.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	waitReady(t, "http://"+u.OpsAddr()+"/readyz")
	conn, err := grpcx.Dial(u.GRPCAddr(), grpcx.ClientOptions{Target: unit.Name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	r.client = shoplabv1.NewProductServiceClient(conn)
	return r
}

// waitReady polls a readiness endpoint until it answers 200.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 10s (last: %v)", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServesOverGRPCAndOps(t *testing.T) {
	r := mustRun(t, testConfig(t.TempDir()), unit.Deps{})
	ctx := t.Context()
	c := r.client
	res, err := c.ReserveStock(ctx, &shoplabv1.ReserveStockRequest{OrderId: "o-1", Lines: []*shoplabv1.StockLine{{ProductId: "p-0100", Quantity: 4}}})
	if err != nil || len(res.GetLines()) != 1 || res.GetLines()[0].GetUnitPriceCents() <= 0 {
		t.Fatalf("ReserveStock = %v, %v", res, err)
	}
	if _, err := c.ReserveStock(ctx, &shoplabv1.ReserveStockRequest{OrderId: "o-2", Lines: []*shoplabv1.StockLine{{ProductId: "p-0001", Quantity: 5}}}); !errs.Is(err, errs.OutOfStock) {
		t.Fatalf("reserve of a low-stock product = %v, want out of stock", err)
	}
	if _, err := c.SearchProducts(ctx, &shoplabv1.SearchProductsRequest{Query: "garden"}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListProducts(ctx, &shoplabv1.ListProductsRequest{Limit: 100})
	if err != nil || len(list.GetProducts()) != 100 || list.GetNextCursor() == "" {
		t.Fatalf("ListProducts = %d products, %v", len(list.GetProducts()), err)
	}

	ops := "http://" + r.u.OpsAddr()
	if code, _ := get(t, ops+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	code, body := get(t, ops+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`shoplab_product_reservations_total{outcome="reserved",unit="product"} 1`,
		`shoplab_product_reservations_total{outcome="out_of_stock",unit="product"} 1`,
		`shoplab_product_searches_total{outcome=`,
		`shoplab_product_stock_available_units{unit="product"}`,
		`shoplab_requests_total{code="OK",method="/shoplab.v1.ProductService/ReserveStock",transport="grpc",unit="product"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	took, err := r.stop(t)
	if err != nil || took > 6*time.Second {
		t.Fatalf("Run returned %v after %v; want nil within the grace period", err, took)
	}
	if err := r.u.Close(); err != nil {
		t.Fatalf("Close after Run: %v", err)
	}
	if err := r.u.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestRestartKeepsCatalogAndStock: the catalog is seeded on the first start
// only, so a restart (even with other seed settings) keeps what was sold.
func TestRestartKeepsCatalogAndStock(t *testing.T) {
	dir := t.TempDir()
	r := mustRun(t, testConfig(dir), unit.Deps{})
	ctx := t.Context()
	before, err := r.client.GetProduct(ctx, &shoplabv1.GetProductRequest{Id: "p-0042"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.ReserveStock(ctx, &shoplabv1.ReserveStockRequest{OrderId: "o-1", Lines: []*shoplabv1.StockLine{{ProductId: "p-0042", Quantity: 3}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := r.u.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(dir)
	cfg.CatalogSeed, cfg.CatalogSize = 2, 50
	r = mustRun(t, cfg, unit.Deps{})
	after, err := r.client.GetProduct(ctx, &shoplabv1.GetProductRequest{Id: "p-0042"})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetProduct().GetName() != before.GetProduct().GetName() || after.GetProduct().GetStock() != before.GetProduct().GetStock()-3 {
		t.Fatalf("after restart p-0042 = %v; want %v less 3 units", after.GetProduct(), before.GetProduct())
	}
	inv, err := r.client.GetInventory(ctx, &shoplabv1.GetInventoryRequest{})
	if err != nil || len(inv.GetLines()) != 300 || inv.GetActiveReservations() != 1 {
		t.Fatalf("inventory after restart: %d lines, %d active, %v", len(inv.GetLines()), inv.GetActiveReservations(), err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, mutate := range map[string]func(*unit.Config){
		"no grpc addr":       func(c *unit.Config) { c.GRPCAddr = "" },
		"no ops addr":        func(c *unit.Config) { c.OpsAddr = "" },
		"no data dir":        func(c *unit.Config) { c.DataDir = "" },
		"negative refresh":   func(c *unit.Config) { c.StockRefresh = -time.Second },
		"bad stock range":    func(c *unit.Config) { c.StockMin, c.StockMax = 10, 1 },
		"bad catalog size":   func(c *unit.Config) { c.CatalogSize = -5 },
		"unusable grpc addr": func(c *unit.Config) { c.GRPCAddr = "256.0.0.1:0" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(dir)
			mutate(&cfg)
			u, err := unit.New(t.Context(), cfg, unit.Deps{})
			if err == nil {
				_ = u.Close()
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

// TestCloseWithoutRunFreesPorts: a unit that was built but never run (a
// failed start-up elsewhere in `shoplab up`) must not keep its ports.
func TestCloseWithoutRunFreesPorts(t *testing.T) {
	u, err := unit.New(t.Context(), testConfig(t.TempDir()), unit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{u.GRPCAddr(), u.OpsAddr()}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s still held after Close: %v", a, err)
		}
		_ = ln.Close()
	}
}

// TestGracefulStopIsBounded: a call that would outlive the grace period is
// cut after 5 s instead of holding shutdown. The slow call is made by a
// server interceptor, the hook the chaos wiring uses for L7 faults.
func TestGracefulStopIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 5 s grace period")
	}
	entered := make(chan struct{}, 1)
	slow := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/GetInventory") {
			entered <- struct{}{}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Minute):
			}
		}
		return h(ctx, req)
	}
	r := mustRun(t, testConfig(t.TempDir()), unit.Deps{ServerInterceptors: []grpc.UnaryServerInterceptor{slow}})
	callErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := r.client.GetInventory(ctx, &shoplabv1.GetInventoryRequest{})
		callErr <- err
	}()
	<-entered
	took, err := r.stop(t)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if took < 4*time.Second || took > 7*time.Second {
		t.Fatalf("shutdown took %v; want about the 5 s grace period", took)
	}
	if err := <-callErr; err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the cut call returned %v; want a server-side cancellation", err)
	}
}
