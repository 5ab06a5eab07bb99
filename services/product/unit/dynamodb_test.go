package unit_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
	"github.com/shoplab/shoplab/services/product/unit"
)

// countingClient is an aws.HTTPClient that counts the calls it carries, as
// chaos L7's wrapper would see them.
type countingClient struct {
	n    atomic.Int64
	next *http.Client
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(r)
}

// TestServesFromDynamoDB runs the unit on a DynamoDB table it creates, with
// no data dir, through the HTTP client the wiring hands it, and checks that
// a restart keeps the stock that was sold.
func TestServesFromDynamoDB(t *testing.T) {
	cfg := unit.Config{
		GRPCAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", CatalogSeed: 1,
		DynamoDBTable: partstest.UniqueName("product-unit-"),
		AWSEndpoint:   partstest.AWSEndpoint(t),
		CreateTable:   true,
	}
	httpc := &countingClient{next: &http.Client{}}
	r := mustRun(t, cfg, unit.Deps{AWSHTTPClient: httpc})
	ctx := t.Context()
	lines := []*shoplabv1.StockLine{{ProductId: "p-0100", Quantity: 4}}
	res, err := r.client.ReserveStock(ctx, &shoplabv1.ReserveStockRequest{OrderId: "o-1", Lines: lines})
	if err != nil || len(res.GetLines()) != 1 {
		t.Fatalf("ReserveStock = %v, %v", res, err)
	}
	before, err := r.client.GetProduct(ctx, &shoplabv1.GetProductRequest{Id: "p-0100"})
	if err != nil {
		t.Fatal(err)
	}
	if httpc.n.Load() == 0 {
		t.Fatal("the unit did not use Deps.AWSHTTPClient")
	}
	if _, err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	_ = r.u.Close()

	r = mustRun(t, cfg, unit.Deps{AWSHTTPClient: httpc})
	after, err := r.client.GetProduct(ctx, &shoplabv1.GetProductRequest{Id: "p-0100"})
	if err != nil || after.GetProduct().GetStock() != before.GetProduct().GetStock() {
		t.Fatalf("stock after restart = %v, %v; want %d (not reseeded)", after, err, before.GetProduct().GetStock())
	}
	again, err := r.client.ReserveStock(ctx, &shoplabv1.ReserveStockRequest{OrderId: "o-1", Lines: lines})
	if err != nil || !again.GetAlreadyReserved() {
		t.Fatalf("retry after restart = %v, %v; want already reserved", again, err)
	}
}
