package ports

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

// The JSON bodies of the API. They are separate from the domain types so
// that the wire format is decided here, in one place, and matches openapi.yaml.

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type userSummaryJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type sessionJSON struct {
	Token     string          `json:"token"`
	ExpiresAt time.Time       `json:"expires_at"`
	User      userSummaryJSON `json:"user"`
}

type productJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
	Stock      int64  `json:"stock"`
}

// listJSON is every paged answer: items is never null, next_cursor is ""
// on the last page.
type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// OrderRequestJSON is the body of POST /api/v1/orders.
type OrderRequestJSON struct {
	Items   []OrderLineJSON `json:"items"`
	Payment PaymentJSON     `json:"payment"`
}

// OrderLineJSON is one line of OrderRequestJSON.
type OrderLineJSON struct {
	ProductID string `json:"product_id"`
	Quantity  int32  `json:"quantity"`
}

// PaymentJSON holds the card token of an order.
type PaymentJSON struct {
	Token string `json:"token"`
}

type orderItemJSON struct {
	ProductID      string `json:"product_id"`
	Name           string `json:"name"`
	Category       string `json:"category"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

type orderJSON struct {
	ID          string          `json:"id"`
	Status      string          `json:"status"`
	Items       []orderItemJSON `json:"items"`
	TotalCents  int64           `json:"total_cents"`
	Currency    string          `json:"currency"`
	FailureCode string          `json:"failure_code,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

func toUserJSON(u gateway.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, CreatedAt: u.CreatedAt}
}

func toProductJSON(p gateway.Product) productJSON {
	return productJSON{ID: p.ID, Name: p.Name, Category: p.Category, PriceCents: p.PriceCents, Currency: p.Currency, Stock: p.Stock}
}

func toOrderJSON(o gateway.Order) orderJSON {
	out := orderJSON{
		ID: o.ID, Status: string(o.Status), Items: make([]orderItemJSON, 0, len(o.Items)),
		TotalCents: o.TotalCents, Currency: o.Currency, FailureCode: o.FailureCode, CreatedAt: o.CreatedAt,
	}
	for _, it := range o.Items {
		out.Items = append(out.Items, orderItemJSON(it))
	}
	return out
}

// DecodeOrderRequest reads the body of POST /api/v1/orders (at most limit
// bytes, unknown fields refused) into the domain request. It checks the JSON
// only; the order rules are gateway.OrderRequest.Validate's. Errors are
// errs.Invalid (400) or errs.TooLarge (413).
func DecodeOrderRequest(w http.ResponseWriter, r *http.Request, limit int64) (gateway.OrderRequest, error) {
	var in OrderRequestJSON
	if err := decode(w, r, limit, &in); err != nil {
		return gateway.OrderRequest{}, err
	}
	req := gateway.OrderRequest{PaymentToken: in.Payment.Token, Lines: make([]gateway.OrderLine, 0, len(in.Items))}
	for _, l := range in.Items {
		req.Lines = append(req.Lines, gateway.OrderLine(l))
	}
	return req, nil
}

func (h *handler) register(w http.ResponseWriter, r *http.Request) {
	if !requireJSON(w, r) {
		return
	}
	var in registerRequest
	if err := decode(w, r, h.maxBody, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.svc.Register(r.Context(), gateway.Registration{Email: in.Email, Password: in.Password, Name: in.Name})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, toUserJSON(u))
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if !requireJSON(w, r) {
		return
	}
	var in loginRequest
	if err := decode(w, r, h.maxBody, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := h.svc.Login(r.Context(), gateway.Credentials{Email: in.Email, Password: in.Password})
	if err != nil {
		if errs.CodeOf(err) == errs.Unauthenticated {
			h.m.authFailures.WithLabelValues("bad_credentials").Inc()
		}
		h.fail(w, r, err)
		return
	}
	// A token is a credential: no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, sessionJSON{
		Token: s.Token, ExpiresAt: s.ExpiresAt,
		User: userSummaryJSON{ID: s.User.ID, Email: s.User.Email, Name: s.User.Name},
	})
}

func (h *handler) listProducts(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := page(q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.svc.ListProducts(r.Context(), gateway.ProductQuery{Category: q.Get("category"), Query: q.Get("q"), Page: p})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := listJSON[productJSON]{Items: make([]productJSON, 0, len(res.Items)), NextCursor: res.NextCursor}
	for _, p := range res.Items {
		out.Items = append(out.Items, toProductJSON(p))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *handler) getProduct(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.GetProduct(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toProductJSON(p))
}

// createOrder answers 201 for a PAID order and 202 for a PENDING one (the
// order unit could not settle it in time; GET the Location later or retry
// with the same Idempotency-Key). A FAILED order is an error whose status
// follows its failure code. A repeated key gets the same answer with
// Idempotent-Replayed: true; for a first answer of 202 the replay reports
// where the order stands now, which is the point of retrying.
func (h *handler) createOrder(w http.ResponseWriter, r *http.Request) {
	claims, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if !requireJSON(w, r) {
		return
	}
	keys := r.Header.Values(gateway.IdempotencyKeyHeader)
	if len(keys) > 1 {
		h.fail(w, r, errs.InvalidField(gateway.IdempotencyKeyHeader, "must be sent once"))
		return
	}
	key := ""
	if len(keys) == 1 {
		key = keys[0]
	}
	// Checked before the body is read: without a key the request cannot be
	// made safe, so there is no point in parsing it.
	if err := gateway.ValidateIdempotencyKey(key); err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := DecodeOrderRequest(w, r, h.maxBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	placed, err := h.svc.PlaceOrder(r.Context(), claims.UserID, key, req)
	h.m.observeOrder(placed, err)
	if placed.Replayed {
		w.Header().Set(ReplayedHeader, "true")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if placed.Order.Status == gateway.StatusPending {
		status = http.StatusAccepted
	}
	w.Header().Set("Location", "/api/v1/orders/"+url.PathEscape(placed.Order.ID))
	httpx.WriteJSON(w, status, toOrderJSON(placed.Order))
}

func (h *handler) getOrder(w http.ResponseWriter, r *http.Request) {
	claims, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	o, err := h.svc.GetOrder(r.Context(), claims.UserID, mux.Vars(r)["id"])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, toOrderJSON(o))
}

func (h *handler) listOrders(w http.ResponseWriter, r *http.Request) {
	claims, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	q, err := query(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := page(q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.svc.ListOrders(r.Context(), claims.UserID, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := listJSON[orderJSON]{Items: make([]orderJSON, 0, len(res.Items)), NextCursor: res.NextCursor}
	for _, o := range res.Items {
		out.Items = append(out.Items, toOrderJSON(o))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
