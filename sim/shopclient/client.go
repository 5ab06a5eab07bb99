// Package shopclient is a typed client of the gateway's REST API, as a
// customer's app would use it. The demo, the end-to-end tests and the
// customer simulator all drive the platform through it.
package shopclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client talks to one gateway.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the gateway at baseURL ("http://127.0.0.1:8080").
// hc may be nil; its Timeout bounds every call when the context has none.
func New(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{base: baseURL, http: hc}
}

// APIError is a non-2xx answer in the documented error shape.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	return s
}

// User is an account as the API returns it.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Session is the answer to a login.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      User      `json:"user"`
}

// Product is a catalog entry.
type Product struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
	Stock      int64  `json:"stock"`
}

// ProductPage is one page of products.
type ProductPage struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

// OrderLine asks for a quantity of a product.
type OrderLine struct {
	ProductID string `json:"product_id"`
	Quantity  int32  `json:"quantity"`
}

// OrderRequest is the body of POST /api/v1/orders.
type OrderRequest struct {
	Items   []OrderLine `json:"items"`
	Payment Payment     `json:"payment"`
}

// Payment holds the card token of an order.
type Payment struct {
	Token string `json:"token"`
}

// OrderItem is a line of a placed order.
type OrderItem struct {
	ProductID      string `json:"product_id"`
	Name           string `json:"name"`
	Category       string `json:"category"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// Order is an order as the API returns it.
type Order struct {
	ID         string      `json:"id"`
	Status     string      `json:"status"`
	Items      []OrderItem `json:"items"`
	TotalCents int64       `json:"total_cents"`
	Currency   string      `json:"currency"`
	CreatedAt  time.Time   `json:"created_at"`
}

// OrderPage is one page of the caller's orders.
type OrderPage struct {
	Items      []Order `json:"items"`
	NextCursor string  `json:"next_cursor"`
}

// Register creates an account.
func (c *Client) Register(ctx context.Context, email, password, name string) (User, error) {
	var u User
	_, err := c.do(ctx, http.MethodPost, "/api/v1/auth/register", "", nil, map[string]string{"email": email, "password": password, "name": name}, &u)
	return u, err
}

// Login returns a session with a bearer token.
func (c *Client) Login(ctx context.Context, email, password string) (Session, error) {
	var s Session
	_, err := c.do(ctx, http.MethodPost, "/api/v1/auth/login", "", nil, map[string]string{"email": email, "password": password}, &s)
	return s, err
}

// ListProducts returns a page of products; q searches, category filters.
func (c *Client) ListProducts(ctx context.Context, category, q string, limit int, cursor string) (ProductPage, error) {
	v := url.Values{}
	if category != "" {
		v.Set("category", category)
	}
	if q != "" {
		v.Set("q", q)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	path := "/api/v1/products"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var p ProductPage
	_, err := c.do(ctx, http.MethodGet, path, "", nil, nil, &p)
	return p, err
}

// GetProduct returns one product.
func (c *Client) GetProduct(ctx context.Context, id string) (Product, error) {
	var p Product
	_, err := c.do(ctx, http.MethodGet, "/api/v1/products/"+url.PathEscape(id), "", nil, nil, &p)
	return p, err
}

// OrderResult is the outcome of CreateOrder: the HTTP status, the order
// when the answer carried one (201 or 202), and whether it was a replay.
type OrderResult struct {
	Status   int
	Order    Order
	Replayed bool
}

// CreateOrder places an order with an Idempotency-Key. A non-2xx answer is
// returned as *APIError alongside the status in OrderResult.
func (c *Client) CreateOrder(ctx context.Context, token, idempotencyKey string, req OrderRequest) (OrderResult, error) {
	var res OrderResult
	h := http.Header{}
	if idempotencyKey != "" {
		h.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/v1/orders", token, h, req, &res.Order)
	if resp != nil {
		res.Status = resp.StatusCode
		res.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	}
	return res, err
}

// GetOrder returns one of the caller's orders.
func (c *Client) GetOrder(ctx context.Context, token, id string) (Order, error) {
	var o Order
	_, err := c.do(ctx, http.MethodGet, "/api/v1/orders/"+url.PathEscape(id), token, nil, nil, &o)
	return o, err
}

// ListOrders returns a page of the caller's orders.
func (c *Client) ListOrders(ctx context.Context, token string, limit int, cursor string) (OrderPage, error) {
	v := url.Values{}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	path := "/api/v1/orders"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var p OrderPage
	_, err := c.do(ctx, http.MethodGet, path, token, nil, nil, &p)
	return p, err
}

// do sends one request; it returns the response (body consumed) when one
// arrived, so callers can read status and headers even on an error.
func (c *Client) do(ctx context.Context, method, path, token string, h http.Header, body, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error APIError `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		e.Error.Status = resp.StatusCode
		if e.Error.Code == "" {
			// Not the error shape: an error status may still carry the
			// resource (a 503 with the FAILED order, say); decode it best
			// effort so that callers can see it.
			if out != nil && len(data) > 0 {
				_ = json.Unmarshal(data, out)
			}
			e.Error.Code = http.StatusText(resp.StatusCode)
		}
		// A 202 never lands here; but a PENDING-bearing error body is not expected either.
		return resp, &e.Error
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp, nil
}
