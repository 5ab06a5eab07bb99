package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/gateway/gatewaytest"
	"github.com/shoplab/shoplab/services/platform/errs"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func fixedNow() func() time.Time {
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return t }
}

func TestNewTokens(t *testing.T) {
	if _, err := app.NewTokens(key[:31], 0, nil); err == nil {
		t.Error("a 31-byte key was accepted")
	}
	if _, err := app.NewTokens(key, -time.Second, nil); err == nil {
		t.Error("a negative ttl was accepted")
	}
}

func TestTokenRoundTrip(t *testing.T) {
	now := fixedNow()
	tokens, err := app.NewTokens(key, 15*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := tokens.Issue(gateway.User{ID: "usr-1", Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if want := now().Add(15 * time.Minute); !exp.Equal(want) {
		t.Errorf("expires %v, want %v", exp, want)
	}
	c, err := tokens.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "usr-1" || c.Email != "a@example.com" || !c.IssuedAt.Equal(now()) || !c.ExpiresAt.Equal(exp) {
		t.Errorf("claims %+v", c)
	}
	// The wire form is what other tools read: check the header and claims.
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	mc := parsed.Claims.(jwt.MapClaims)
	if parsed.Header["alg"] != "HS256" || mc["iss"] != "shoplab" || mc["sub"] != "usr-1" || mc["email"] != "a@example.com" {
		t.Errorf("header %v, claims %v", parsed.Header, mc)
	}
}

func TestTokenRefusals(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	tokens, err := app.NewTokens(key, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	good, _, err := tokens.Issue(gateway.User{ID: "usr-1"})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(m jwt.SigningMethod, k any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := jwt.MapClaims{"sub": "usr-1", "iss": "shoplab", "exp": clock.Add(time.Hour).Unix()}
	tests := []struct {
		name    string
		token   string
		expired bool
	}{
		{"empty", "", false},
		{"garbage", "abc.def.ghi", false},
		{"wrong key", sign(jwt.SigningMethodHS256, []byte("ffffffffffffffffffffffffffffffff"), claims), false},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims), false},
		{"HS384", sign(jwt.SigningMethodHS384, key, claims), false},
		{"signature stripped", good[:strings.LastIndexByte(good, '.')+1], false},
		{"expired", good, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.expired {
				clock = clock.Add(time.Hour)
			}
			_, err := tokens.Verify(tt.token)
			if errs.CodeOf(err) != errs.Unauthenticated {
				t.Fatalf("Verify = %v, want unauthenticated", err)
			}
			if got := errors.Is(err, app.ErrTokenExpired); got != tt.expired {
				t.Errorf("expired = %v, want %v (%v)", got, tt.expired, err)
			}
			if strings.Contains(errs.MessageOf(err), "signature") {
				t.Errorf("message %q explains the cryptography to the client", errs.MessageOf(err))
			}
		})
	}
}

// recordingOrders wraps a Shop to see exactly what the app sends.
type recordingOrders struct {
	*gatewaytest.Shop
	listed []string
}

func (r *recordingOrders) ListOrders(ctx context.Context, userID string, p gateway.Page) (gateway.OrderPage, error) {
	r.listed = append(r.listed, userID)
	return r.Shop.ListOrders(ctx, userID, p)
}

func newService(t *testing.T) (*app.Service, *gatewaytest.Shop, *recordingOrders) {
	t.Helper()
	shop := gatewaytest.NewShop(fixedNow())
	shop.AddProduct(gateway.Product{ID: "p1", Name: "Mug", Category: "kitchen", PriceCents: 100, Currency: "USD", Stock: 5})
	tokens, err := app.NewTokens(key, 0, fixedNow())
	if err != nil {
		t.Fatal(err)
	}
	orders := &recordingOrders{Shop: shop}
	svc, err := app.New(shop, shop, orders, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc, shop, orders
}

func TestPlaceOrderSendsNormalizedRequest(t *testing.T) {
	svc, shop, _ := newService(t)
	req := gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 2}}}
	placed, err := svc.PlaceOrder(t.Context(), "usr-1", "k1", req)
	if err != nil || placed.Order.Status != gateway.StatusPaid || placed.Replayed {
		t.Fatalf("PlaceOrder = %+v, %v", placed, err)
	}
	got := shop.Creates()[0]
	if got.Request.PaymentToken != gateway.DefaultPaymentToken || got.RequestHash != req.Hash() || got.UserID != "usr-1" || got.IdempotencyKey != "k1" {
		t.Errorf("sent %+v", got)
	}
	// A failed order returns the order too, so ports can mark a replay.
	placed, err = svc.PlaceOrder(t.Context(), "usr-1", "k2", gateway.OrderRequest{Lines: req.Lines, PaymentToken: gatewaytest.TokenDeclined})
	if errs.CodeOf(err) != errs.PaymentDeclined || placed.Order.ID == "" {
		t.Fatalf("declined: %+v, %v", placed, err)
	}
	placed, err = svc.PlaceOrder(t.Context(), "usr-1", "k2", gateway.OrderRequest{Lines: req.Lines, PaymentToken: gatewaytest.TokenDeclined})
	if errs.CodeOf(err) != errs.PaymentDeclined || !placed.Replayed {
		t.Fatalf("declined replay: %+v, %v", placed, err)
	}
}

func TestPlaceOrderRefusesBeforeCalling(t *testing.T) {
	svc, shop, _ := newService(t)
	ok := gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 1}}}
	tests := []struct {
		name, user, key string
		req             gateway.OrderRequest
		code            errs.Code
	}{
		{"no user", "", "k", ok, errs.Unauthenticated},
		{"no key", "usr-1", "", ok, errs.Invalid},
		{"bad line", "usr-1", "k", gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1"}}}, errs.Invalid},
	}
	for _, tt := range tests {
		if _, err := svc.PlaceOrder(t.Context(), tt.user, tt.key, tt.req); errs.CodeOf(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if n := len(shop.Creates()); n != 0 {
		t.Errorf("%d refused requests reached the order unit", n)
	}
}

// refusingOrders is an order unit that refuses every order with err.
type refusingOrders struct {
	*gatewaytest.Shop
	err error
}

func (r refusingOrders) CreateOrder(context.Context, app.PlaceOrder) (gateway.PlacedOrder, error) {
	return gateway.PlacedOrder{}, r.err
}

// TestPlaceOrderNamesTheClientsField: the payment unit refuses an unknown
// token on its field payment_token; the client wrote payment.token, and
// the error says so (the OpenAPI file's field is a path in the request).
func TestPlaceOrderNamesTheClientsField(t *testing.T) {
	shop := gatewaytest.NewShop(fixedNow())
	tokens, err := app.NewTokens(key, 0, fixedNow())
	if err != nil {
		t.Fatal(err)
	}
	unit := refusingOrders{Shop: shop, err: errs.InvalidField("payment_token", "unknown payment token %q", "tok_nope")}
	svc, err := app.New(shop, shop, unit, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := gateway.OrderRequest{Lines: []gateway.OrderLine{{ProductID: "p1", Quantity: 1}}, PaymentToken: "tok_nope"}
	_, err = svc.PlaceOrder(t.Context(), "usr-1", "k1", req)
	if errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != "payment.token" || !strings.Contains(errs.MessageOf(err), "tok_nope") {
		t.Errorf("PlaceOrder = %v (field %q), want invalid_argument on payment.token", err, errs.FieldOf(err))
	}
}

func TestListOrdersNeverAsksForEverybody(t *testing.T) {
	svc, _, orders := newService(t)
	if _, err := svc.ListOrders(t.Context(), "", gateway.Page{}); errs.CodeOf(err) != errs.Unauthenticated {
		t.Errorf("ListOrders with no user = %v", err)
	}
	if len(orders.listed) != 0 {
		t.Errorf("the order unit was asked for %v", orders.listed)
	}
}

func TestLoginHidesWhichPartWasWrong(t *testing.T) {
	svc, _, _ := newService(t)
	if _, err := svc.Register(t.Context(), gateway.Registration{Email: "a@example.com", Password: "longenough", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	_, errUnknown := svc.Login(t.Context(), gateway.Credentials{Email: "b@example.com", Password: "longenough"})
	_, errWrong := svc.Login(t.Context(), gateway.Credentials{Email: "a@example.com", Password: "wrong"})
	for _, err := range []error{errUnknown, errWrong} {
		if errs.CodeOf(err) != errs.Unauthenticated || errs.MessageOf(err) != "invalid email or password" {
			t.Errorf("login error %v", err)
		}
	}
	s, err := svc.Login(t.Context(), gateway.Credentials{Email: "a@example.com", Password: "longenough"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := svc.Authorize(s.Token); err != nil || c.UserID != s.User.ID {
		t.Errorf("Authorize(login token) = %+v, %v", c, err)
	}
}

func TestListProductsSearchesWhenQIsSet(t *testing.T) {
	svc, shop, _ := newService(t)
	shop.AddProduct(gateway.Product{ID: "p2", Name: "Lamp", Category: "office"})
	page, err := svc.ListProducts(t.Context(), gateway.ProductQuery{Query: "lam"})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != "p2" {
		t.Errorf("search = %+v, %v", page, err)
	}
	page, err = svc.ListProducts(t.Context(), gateway.ProductQuery{})
	if err != nil || len(page.Items) != 2 {
		t.Errorf("list = %+v, %v", page, err)
	}
}
