package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/shopclient"
)

// shop is the bench's view of the running env: a product to read and the
// well-stocked products orders use.
type shop struct {
	gateway   string
	api       *shopclient.Client
	productID string
	stocked   []string
	seq       atomic.Int64 // numbers idempotency keys and customers across runs
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}}
}

func newShop(ctx context.Context, gateway string) (*shop, error) {
	s := &shop{gateway: gateway, api: shopclient.New(gateway, newHTTPClient(8))}
	cursor := ""
	for {
		page, err := s.api.ListProducts(ctx, "", "", 100, cursor)
		if err != nil {
			return nil, fmt.Errorf("list the catalog: %w", err)
		}
		for _, p := range page.Items {
			// Orders take one unit each: only well-stocked products, so a
			// long run measures placing orders, not running out of stock.
			if p.Stock >= 300 {
				s.stocked = append(s.stocked, p.ID)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(s.stocked) == 0 {
		return nil, errors.New("no product with 300 units in stock")
	}
	s.productID = s.stocked[0]
	return s, nil
}

// productBody is the gateway's answer for one product: the bare handler
// serves the same bytes, so the two GET figures compare like with like.
func (s *shop) productBody(ctx context.Context) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.gateway+"/api/v1/products/"+s.productID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func startBare(body []byte) (*httptest.Server, error) {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})), nil
}

var wrkRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func runWrk(ctx context.Context, wrk, url string, d time.Duration) (float64, error) {
	secs := max(int(d.Seconds()), 1)
	out, err := exec.CommandContext(ctx, wrk, "-t2", "-c64", "-d"+strconv.Itoa(secs)+"s", url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v: %s", err, out)
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk printed no Requests/sec: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// closedLoopGet is a wrk stand-in: conns workers each GET url back to back.
func closedLoopGet(ctx context.Context, url string, conns int, d time.Duration) (float64, error) {
	hc := newHTTPClient(conns)
	var n, failed atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				resp, err := hc.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					n.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > n.Load() {
		return 0, fmt.Errorf("%d of %d requests failed", failed.Load(), failed.Load()+n.Load())
	}
	return float64(n.Load()) / d.Seconds(), nil
}

type customer struct{ token string }

func (s *shop) customers(ctx context.Context, n int) ([]customer, error) {
	cs := make([]customer, n)
	for i := range cs {
		email := fmt.Sprintf("bench-%d@example.com", s.seq.Add(1))
		if _, err := s.api.Register(ctx, email, "correct horse battery", "Bench"); err != nil {
			return nil, fmt.Errorf("register: %w", err)
		}
		sess, err := s.api.Login(ctx, email, "correct horse battery")
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		cs[i].token = sess.Token
	}
	return cs, nil
}

func (s *shop) order(i int64) shopclient.OrderRequest {
	return shopclient.OrderRequest{Items: []shopclient.OrderLine{{ProductID: s.stocked[int(i)%len(s.stocked)], Quantity: 1}}, Payment: shopclient.Payment{Token: "tok_visa"}}
}

type closedResult struct {
	rate     float64
	p50, p99 time.Duration
	errors   int64
	firstErr string
}

// ordersClosedLoop places orders back to back on conns connections, one
// customer each.
func (s *shop) ordersClosedLoop(ctx context.Context, conns int, d time.Duration) (closedResult, error) {
	cs, err := s.customers(ctx, conns)
	if err != nil {
		return closedResult{}, err
	}
	api := shopclient.New(s.gateway, newHTTPClient(conns))
	var placed, failed atomic.Int64
	var mu sync.Mutex
	h := hdrhistogram.New(1, 60_000_000, 3) // µs
	var firstErr string
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			local := hdrhistogram.New(1, 60_000_000, 3)
			for time.Now().Before(end) && ctx.Err() == nil {
				i := s.seq.Add(1)
				t0 := time.Now()
				res, err := api.CreateOrder(ctx, cs[w].token, fmt.Sprintf("bench-%d", i), s.order(i))
				_ = local.RecordValue(time.Since(t0).Microseconds())
				if err != nil || res.Status != http.StatusCreated {
					if failed.Add(1) == 1 {
						mu.Lock()
						firstErr = fmt.Sprintf("%d %v", res.Status, err)
						mu.Unlock()
					}
					continue
				}
				placed.Add(1)
			}
			mu.Lock()
			h.Merge(local)
			mu.Unlock()
		})
	}
	wg.Wait()
	return closedResult{rate: float64(placed.Load()) / d.Seconds(), p50: time.Duration(h.ValueAtQuantile(50)) * time.Microsecond,
		p99: time.Duration(h.ValueAtQuantile(99)) * time.Microsecond, errors: failed.Load(), firstErr: firstErr}, nil
}

type openResult struct {
	p99                        time.Duration
	scheduled, placed, dropped int64
	orders                     []shopclient.Order
}

// ordersOpen places orders at a constant arrival rate with the scenario
// runner's generator, so latency counts from each order's intended start.
func (s *shop) ordersOpen(ctx context.Context, rate float64, d time.Duration) (openResult, error) {
	var mu sync.Mutex
	var orders []shopclient.Order
	place := load.NewJourney("place-order", func(ctx context.Context, ss *load.Session) error {
		i := s.seq.Add(1)
		return ss.CallAuthed(ctx, "POST /api/v1/orders", []int{http.StatusCreated}, func(ctx context.Context, c *shopclient.Client, token string) error {
			res, err := c.CreateOrder(ctx, token, fmt.Sprintf("bench-%d", i), s.order(i))
			if err == nil {
				mu.Lock()
				orders = append(orders, res.Order)
				mu.Unlock()
			}
			return err
		})
	})
	r, err := load.New(load.Config{BaseURL: s.gateway, Executor: load.ConstantArrivalRate, Rate: rate, Duration: d, MaxInFlight: 256,
		Customers: 32, Journeys: map[string]float64{"place-order": 1}, Seed: 1}, load.WithJourney(place), load.WithCatalogPages(1))
	if err != nil {
		return openResult{}, err
	}
	defer r.Close()
	if err := r.Prepare(ctx); err != nil {
		return openResult{}, err
	}
	res, err := r.Run(ctx)
	if err != nil {
		return openResult{}, err
	}
	return openResult{p99: res.Total.P99, scheduled: res.Scheduled, placed: int64(len(orders)), dropped: res.Dropped, orders: orders}, nil
}

// emailLatency waits until every order has its email and returns the 99th
// percentile of created_at -> sent_at.
func (s *shop) emailLatency(ctx context.Context, ops string, orders []shopclient.Order) (time.Duration, int, error) {
	created := make(map[string]time.Time, len(orders))
	for _, o := range orders {
		created[o.ID] = o.CreatedAt
	}
	type mail struct {
		OrderID string    `json:"order_id"`
		SentAt  time.Time `json:"sent_at"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/ops/v1/mailbox?limit=%d", ops, 100_000), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		var body struct{ Items []mail }
		err = json.NewDecoder(resp.Body).Decode(&body)
		_ = resp.Body.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("mailbox: %w", err)
		}
		var lat []time.Duration
		for _, m := range body.Items {
			if c, ok := created[m.OrderID]; ok {
				lat = append(lat, max(m.SentAt.Sub(c), 0))
			}
		}
		if len(lat) == len(created) {
			if len(lat) == 0 {
				return 0, 0, errors.New("no order was placed")
			}
			slices.Sort(lat)
			return lat[min(len(lat)-1, len(lat)*99/100)], len(lat), nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%d of %d orders have their email after 60s", len(lat), len(created))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// generatorMax drives GET product with the scenario runner's generator at
// a rate above what the env serves and reports what it achieved.
func (s *shop) generatorMax(ctx context.Context, id string, rate float64, d time.Duration) (float64, error) {
	get := load.NewJourney("get-product", func(ctx context.Context, ss *load.Session) error {
		return ss.Call(ctx, "GET /api/v1/products/{id}", []int{http.StatusOK}, func(ctx context.Context, c *shopclient.Client) error {
			_, err := c.GetProduct(ctx, id)
			return err
		})
	})
	r, err := load.New(load.Config{BaseURL: s.gateway, Executor: load.ConstantArrivalRate, Rate: rate, Duration: d, MaxInFlight: 64,
		Journeys: map[string]float64{"get-product": 1}, Seed: 1}, load.WithJourney(get), load.WithCatalogPages(1))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if err := r.Prepare(ctx); err != nil {
		return 0, err
	}
	res, err := r.Run(ctx)
	if err != nil {
		return 0, err
	}
	return float64(res.Total.Requests-res.Total.Errors) / d.Seconds(), nil
}

// windowEngineRate feeds the Go window engine in order, one partition, on
// one goroutine, and returns events per second.
func windowEngineRate(short bool) float64 {
	n := 1_000_000
	if short {
		n = 200_000
	}
	e, err := analytics.NewWindowEngine(analytics.WithWindow(time.Minute))
	if err != nil {
		return 0
	}
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	evs := make([]events.OrderPlaced, 1024)
	for i := range evs {
		evs[i] = events.OrderPlaced{SchemaVersion: events.SchemaVersion, Type: events.TypeOrderPlaced, Currency: "USD", TotalCents: 1000,
			UserID: fmt.Sprintf("u-%d", i%97), Items: []events.LineItem{{ProductID: fmt.Sprintf("p-%04d", i%300), Quantity: 1, UnitPriceCents: 1000, Category: "books"}}}
	}
	start := time.Now()
	for i := range n {
		ev := evs[i%len(evs)]
		ev.EventID = strconv.Itoa(i)
		ev.OrderID = ev.EventID
		ev.OccurredAt = t0.Add(time.Duration(i) * time.Millisecond)
		e.Add(ev.OccurredAt, 0, ev)
		if i%1000 == 0 {
			e.Advance(ev.OccurredAt)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}
