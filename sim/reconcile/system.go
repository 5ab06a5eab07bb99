package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/api/events"
	pb "github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/grpcx"
)

// System reads the state of a running platform over its own APIs: the
// order, payment and product gRPC services and the ops HTTP API. It works
// against any env, given addresses.
type System struct {
	Orders   pb.OrderServiceClient
	Payments pb.PaymentServiceClient
	Products pb.ProductServiceClient
	OpsURL   string // "http://127.0.0.1:8090"
	HTTP     *http.Client
}

// NewSystem returns a System over the three connections and the ops API.
func NewSystem(order, payment, product grpc.ClientConnInterface, opsURL string) *System {
	return &System{
		Orders:   pb.NewOrderServiceClient(order),
		Payments: pb.NewPaymentServiceClient(payment),
		Products: pb.NewProductServiceClient(product),
		OpsURL:   strings.TrimRight(opsURL, "/"),
		HTTP:     &http.Client{Timeout: 10 * time.Second},
	}
}

// State reads everything reconciliation needs.
func (s *System) State(ctx context.Context) (State, error) {
	var st State
	var err error
	if st.Orders, err = s.orders(ctx); err != nil {
		return st, fmt.Errorf("list orders: %w", err)
	}
	if st.Payments, err = s.payments(ctx); err != nil {
		return st, fmt.Errorf("list payments: %w", err)
	}
	inv, err := s.Products.GetInventory(ctx, &pb.GetInventoryRequest{})
	if err != nil {
		return st, fmt.Errorf("get inventory: %w", err)
	}
	for _, l := range inv.GetLines() {
		st.Stock = append(st.Stock, StockLine{ProductID: l.GetProductId(), Initial: l.GetInitial(), Available: l.GetAvailable(), Reserved: l.GetReserved()})
	}
	var mail struct {
		Items []struct {
			To      string `json:"to"`
			OrderID string `json:"order_id"`
		} `json:"items"`
	}
	if err := s.getJSON(ctx, "/ops/v1/mailbox?limit=1000000", &mail); err != nil {
		return st, err
	}
	for _, m := range mail.Items {
		st.Emails = append(st.Emails, Email{OrderID: m.OrderID, To: m.To})
	}
	var wins struct {
		Items []events.WindowResult `json:"items"`
	}
	if err := s.getJSON(ctx, "/ops/v1/analytics/windows?limit=1000000", &wins); err != nil {
		return st, err
	}
	st.Windows = wins.Items
	return st, nil
}

func (s *System) orders(ctx context.Context) ([]Order, error) {
	var out []Order
	cursor := ""
	for {
		resp, err := s.Orders.ListOrders(ctx, &pb.ListOrdersRequest{Limit: 100, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, o := range resp.GetOrders() {
			items := map[string]int64{}
			for _, it := range o.GetItems() {
				items[it.GetProductId()] += int64(it.GetQuantity())
			}
			out = append(out, Order{ID: o.GetId(), UserID: o.GetUserId(), Status: strings.TrimPrefix(o.GetStatus().String(), "ORDER_STATUS_"), Items: items})
		}
		if cursor = resp.GetNextCursor(); cursor == "" {
			return out, nil
		}
	}
}

func (s *System) payments(ctx context.Context) ([]Payment, error) {
	var out []Payment
	cursor := ""
	for {
		resp, err := s.Payments.ListPayments(ctx, &pb.ListPaymentsRequest{Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, p := range resp.GetPayments() {
			out = append(out, Payment{OrderID: p.GetOrderId(), Status: strings.TrimPrefix(p.GetStatus().String(), "PAYMENT_STATUS_"), ProcessorCharges: int(p.GetProcessorCharges())})
		}
		if cursor = resp.GetNextCursor(); cursor == "" {
			return out, nil
		}
	}
}

func (s *System) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.OpsURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("ops API %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ops API %s: HTTP %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("ops API %s: %w", path, err)
	}
	return nil
}

// WaitFor polls src until check passes or ctx ends, returning the last
// results. It is how a run waits for emails and windows to arrive.
func WaitFor(ctx context.Context, src Source, ledger []Seen, names []string, every time.Duration) ([]Result, State, error) {
	var last []Result
	var st State
	for {
		s, err := src.State(ctx)
		if err == nil {
			st = s
			last = Check(s, ledger, names)
			if OK(last) {
				return last, st, nil
			}
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, st, fmt.Errorf("no state could be read: %w", err)
			}
			return last, st, nil
		case <-time.After(every):
		}
	}
}

// DialSystem dials the order, payment and product units at their gRPC
// addresses and returns a System over them and the ops API, with the
// function that closes the connections. Callers pass the units' own
// addresses, never chaos proxies, so reconciliation reads the truth while
// faults are active.
func DialSystem(orderAddr, paymentAddr, productAddr, opsURL string) (*System, func(), error) {
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, cc := range conns {
			_ = cc.Close()
		}
	}
	for _, u := range []struct{ name, addr string }{{"order", orderAddr}, {"payment", paymentAddr}, {"product", productAddr}} {
		if u.addr == "" {
			closeAll()
			return nil, nil, fmt.Errorf("no gRPC address for %s", u.name)
		}
		cc, err := grpcx.Dial(u.addr, grpcx.ClientOptions{Target: u.name})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("dial %s: %w", u.name, err)
		}
		conns = append(conns, cc)
	}
	return NewSystem(conns[0], conns[1], conns[2], opsURL), closeAll, nil
}
