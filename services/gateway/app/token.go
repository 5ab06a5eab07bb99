package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Issuer is the iss claim of every token the gateway signs and accepts.
const Issuer = "shoplab"

// MinKeyBytes is the shortest JWT key accepted: HS256 needs a key at least
// as long as its 256-bit output to keep its strength (RFC 7518 §3.2).
const MinKeyBytes = 32

// DefaultTokenTTL is how long a token lives when the config says nothing.
const DefaultTokenTTL = time.Hour

// maxTokenBytes bounds what the parser is handed; real tokens are a few
// hundred bytes and parsing is the first thing an attacker reaches.
const maxTokenBytes = 4096

// ErrTokenExpired is in the chain of Verify's error when the token was
// genuine but is past its exp, so ports can count expiries apart.
var ErrTokenExpired = errors.New("token expired")

// Tokens signs and verifies the gateway's bearer tokens: HS256 JWTs with
// sub (the user id), email, iat, exp and iss "shoplab".
type Tokens struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// tokenClaims is the JWT payload.
type tokenClaims struct {
	Email string `json:"email"`
	jwt.RegisteredClaims
}

// NewTokens returns Tokens signing with key (at least MinKeyBytes). ttl 0
// means DefaultTokenTTL; now nil means time.Now.
func NewTokens(key []byte, ttl time.Duration, now func() time.Time) (*Tokens, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("jwt key is %d bytes, want at least %d", len(key), MinKeyBytes)
	}
	if ttl < 0 {
		return nil, fmt.Errorf("token ttl %v is negative", ttl)
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{
		key: append([]byte(nil), key...),
		ttl: ttl,
		now: now,
		// Pinning the method list is what refuses "none" and the RS256/HS256
		// confusion attack; exp is required so no token lives forever.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(Issuer),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// Issue signs a token for u, valid from now for the configured ttl.
func (t *Tokens) Issue(u gateway.User) (token string, expiresAt time.Time, err error) {
	now := t.now().UTC().Truncate(time.Second)
	expiresAt = now.Add(t.ttl)
	c := tokenClaims{
		Email: u.Email,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(expiresAt),
		},
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, errs.Wrap(errs.Internal, err, "could not sign a token")
	}
	return token, expiresAt, nil
}

// Verify checks token's signature, algorithm, issuer and expiry and returns
// its claims. Every failure is Unauthenticated with a message that says
// what to do, never why the signature failed.
func (t *Tokens) Verify(token string) (gateway.Claims, error) {
	if token == "" {
		return gateway.Claims{}, errs.E(errs.Unauthenticated, "a bearer token is required")
	}
	if len(token) > maxTokenBytes {
		return gateway.Claims{}, errs.E(errs.Unauthenticated, "the bearer token is invalid")
	}
	var c tokenClaims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return gateway.Claims{}, errs.Wrap(errs.Unauthenticated, fmt.Errorf("%w: %w", ErrTokenExpired, err), "the bearer token has expired; log in again")
	case err != nil:
		return gateway.Claims{}, errs.Wrap(errs.Unauthenticated, err, "the bearer token is invalid")
	}
	// An empty subject would make "the caller's orders" mean everybody's
	// orders downstream (ListOrders with no user lists all of them).
	if c.Subject == "" {
		return gateway.Claims{}, errs.E(errs.Unauthenticated, "the bearer token is invalid")
	}
	out := gateway.Claims{UserID: c.Subject, Email: c.Email}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time
	}
	if c.ExpiresAt != nil {
		out.ExpiresAt = c.ExpiresAt.Time
	}
	return out, nil
}
