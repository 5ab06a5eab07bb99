package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoplab/shoplab/sim/shopclient"
)

// Endpoints, as the stats name them: the gateway's route templates.
// Searching shares its route with listing but not its cost, so it is kept
// apart.
const (
	EndpointRegister       = "POST /api/v1/auth/register"
	EndpointLogin          = "POST /api/v1/auth/login"
	EndpointListProducts   = "GET /api/v1/products"
	EndpointSearchProducts = "GET /api/v1/products?q"
	EndpointGetProduct     = "GET /api/v1/products/{id}"
	EndpointCreateOrder    = "POST /api/v1/orders"
	EndpointGetOrder       = "GET /api/v1/orders/{id}"
	EndpointListOrders     = "GET /api/v1/orders"
)

// Session is one iteration's handle on the simulator: its random source,
// the pooled customers, the catalog snapshot, and request methods that
// measure and classify every request. A Session belongs to one iteration
// and must not be kept after Run returns.
type Session struct {
	// Rand is seeded by the run's seed and the iteration's index, so every
	// choice a journey makes with it comes out the same on a rerun.
	Rand *rand.Rand

	r        *Runner
	journey  string
	index    int64
	intended time.Time
	mark     time.Time // intended start of the next request
	failed   bool      // a request of this iteration counted as an error
	cust     *customer
	orders   int // orders placed so far, numbering the idempotency keys
	pcg      rand.PCG
}

// Journey returns the name of the journey being run.
func (s *Session) Journey() string { return s.journey }

// Index returns the iteration's position in the schedule, from 0.
func (s *Session) Index() int64 { return s.index }

// Intended returns the time the iteration was scheduled to start.
func (s *Session) Intended() time.Time { return s.intended }

// Catalog returns the snapshot Prepare loaded; it is shared and read-only.
func (s *Session) Catalog() *Catalog { return &s.r.catalog }

// Customer returns the email of the pooled customer this iteration acts
// as, picked with Rand on first use; an error when there are none.
func (s *Session) Customer() (string, error) {
	c, err := s.customer()
	if err != nil {
		return "", err
	}
	return c.email, nil
}

// ErrNoCustomers is returned to journeys that need an account when the
// runner has no customers (Config.Customers is 0 or Prepare was not run).
var ErrNoCustomers = errors.New("load: no customers; set Customers and call Prepare")

func (s *Session) customer() (*customer, error) {
	if s.cust == nil {
		if len(s.r.customers) == 0 {
			return nil, ErrNoCustomers
		}
		s.cust = s.r.customers[s.Rand.IntN(len(s.r.customers))]
	}
	return s.cust, nil
}

// Call makes one request with the shared client and records it under
// endpoint. Its latency runs from the request's intended start (the
// iteration's scheduled time for the first request, the end of the previous
// one after that) to its end. A 4xx whose status is in expect is not an
// error; 5xx, timeouts, transport errors and other 4xx are. Call returns
// fn's error unchanged; a request that fails once the run's context has
// ended is not recorded: it was cut short by the abort, not by the system.
func (s *Session) Call(ctx context.Context, endpoint string, expect []int, fn func(ctx context.Context, c *shopclient.Client) error) error {
	err := fn(ctx, s.r.client)
	end := s.r.clock.Now()
	lat := end.Sub(s.mark)
	s.mark = end
	if err != nil && s.r.aborted() != nil {
		return err
	}
	k := classifyRequest(err, expect)
	if k != reqOK {
		s.failed = true
	}
	s.r.rec.request(endpoint, lat, k, end)
	return err
}

// CallAuthed is Call with the customer's bearer token. Tokens are cached per
// customer; a 401 (the token expired) makes the customer log in again and the
// request is retried once, as an app does. The first 401 is expected, a
// second one is an error.
func (s *Session) CallAuthed(ctx context.Context, endpoint string, expect []int, fn func(ctx context.Context, c *shopclient.Client, token string) error) error {
	tok, err := s.token(ctx, nil)
	if err != nil {
		return err
	}
	first := append(slices.Clip(expect), http.StatusUnauthorized)
	err = s.Call(ctx, endpoint, first, func(ctx context.Context, c *shopclient.Client) error { return fn(ctx, c, *tok) })
	if StatusOf(err) != http.StatusUnauthorized {
		return err
	}
	if tok, err = s.token(ctx, tok); err != nil {
		return err
	}
	return s.Call(ctx, endpoint, expect, func(ctx context.Context, c *shopclient.Client) error { return fn(ctx, c, *tok) })
}

// Token returns the customer's bearer token, logging in (a recorded
// request) when none is cached.
func (s *Session) Token(ctx context.Context) (string, error) {
	tok, err := s.token(ctx, nil)
	if err != nil {
		return "", err
	}
	return *tok, nil
}

func (s *Session) token(ctx context.Context, stale *string) (*string, error) {
	c, err := s.customer()
	if err != nil {
		return nil, err
	}
	if t := c.token.Load(); t != nil && t != stale {
		return t, nil
	}
	return c.login(ctx, stale, func(ctx context.Context) (string, error) {
		var sess shopclient.Session
		err := s.Call(ctx, EndpointLogin, nil, func(ctx context.Context, cl *shopclient.Client) error {
			var err error
			sess, err = cl.Login(ctx, c.email, c.password)
			return err
		})
		return sess.Token, err
	})
}

// ListProducts lists a page of the catalog (recorded).
func (s *Session) ListProducts(ctx context.Context, limit int, cursor string) (shopclient.ProductPage, error) {
	var p shopclient.ProductPage
	err := s.Call(ctx, EndpointListProducts, nil, func(ctx context.Context, c *shopclient.Client) error {
		var err error
		p, err = c.ListProducts(ctx, "", "", limit, cursor)
		return err
	})
	return p, err
}

// SearchProducts searches the catalog for q (recorded).
func (s *Session) SearchProducts(ctx context.Context, q string, limit int) (shopclient.ProductPage, error) {
	var p shopclient.ProductPage
	err := s.Call(ctx, EndpointSearchProducts, nil, func(ctx context.Context, c *shopclient.Client) error {
		var err error
		p, err = c.ListProducts(ctx, "", q, limit, "")
		return err
	})
	return p, err
}

// GetProduct reads one product (recorded).
func (s *Session) GetProduct(ctx context.Context, id string) (shopclient.Product, error) {
	var p shopclient.Product
	err := s.Call(ctx, EndpointGetProduct, nil, func(ctx context.Context, c *shopclient.Client) error {
		var err error
		p, err = c.GetProduct(ctx, id)
		return err
	})
	return p, err
}

// PlaceOrder places req as the session's customer under a fresh
// Idempotency-Key and enters the attempt in the ledger. expect lists the
// 4xx statuses the journey counts as normal (402 for a declined card, 409
// when racing for stock). It returns the attempt as the ledger holds it and
// CreateOrder's error.
func (s *Session) PlaceOrder(ctx context.Context, req shopclient.OrderRequest, expect ...int) (OrderAttempt, error) {
	c, err := s.customer()
	if err != nil {
		return OrderAttempt{}, err
	}
	key := s.r.orderKey(s.index, s.orders)
	s.orders++
	var (
		entry    *ledgerEntry
		res      shopclient.OrderResult
		orderErr error
		sent     int
	)
	err = s.CallAuthed(ctx, EndpointCreateOrder, expect, func(ctx context.Context, cl *shopclient.Client, token string) error {
		if entry == nil {
			entry = s.r.ledger.open(key, s.journey, c, req, s.index)
		}
		sent++
		res, orderErr = cl.CreateOrder(ctx, token, key, req)
		return orderErr
	})
	if entry == nil {
		// No order request was sent (the login failed): nothing to settle.
		return OrderAttempt{Key: key, Journey: s.journey, Customer: c.email, Request: req}, err
	}
	// The ledger judges the last order answer, not a failed re-login after it.
	return s.r.ledger.answer(entry, res, orderErr, sent, false), err
}

// StatusOf returns the HTTP status of a shopclient error, or 0 when err
// carries none (nil, a timeout, a transport error).
func StatusOf(err error) int {
	var ae *shopclient.APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// classifyRequest decides how the stats count a request's result.
func classifyRequest(err error, expect []int) reqKind {
	if err == nil {
		return reqOK
	}
	var ae *shopclient.APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status >= 500:
			return req5xx
		case slices.Contains(expect, ae.Status):
			return reqOK
		default:
			return reqUnexpected4xx
		}
	}
	if isTimeout(err) {
		return reqTimeout
	}
	// Refused or reset connections, and 2xx bodies that do not decode.
	return reqTransport
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// customer is a pooled account. Its token is read on every authenticated
// request, so it sits behind an atomic pointer; logins are serialised so
// that the iterations sharing a customer share one login.
type customer struct {
	email, password string
	mu              sync.Mutex
	token           atomic.Pointer[string]
}

// login runs do to get a new token unless another caller already replaced
// stale (nil: no token yet) while this one waited.
func (c *customer) login(ctx context.Context, stale *string, do func(ctx context.Context) (string, error)) (*string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.token.Load(); t != nil && t != stale {
		return t, nil
	}
	tok, err := do(ctx)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, errors.New("login answered without a token")
	}
	c.token.Store(&tok)
	return &tok, nil
}
