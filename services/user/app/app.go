// Package app holds the user unit's use cases: register, authenticate and
// look up accounts. It owns the Store port its adapters implement.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/user"
)

// Store keeps accounts. Emails reach it already normalized; the store
// enforces their uniqueness (a UNIQUE index), so concurrent registrations of
// one address cannot both succeed.
type Store interface {
	// Create stores a new user; errs.Conflict when its email or id is taken.
	Create(ctx context.Context, u user.User) error
	// ByEmail returns the user with this normalized email; errs.NotFound when none.
	ByEmail(ctx context.Context, email string) (user.User, error)
	// ByID returns the user with this id; errs.NotFound when none.
	ByID(ctx context.Context, id string) (user.User, error)
}

// Options configures a Service. The zero value is production-ready.
type Options struct {
	Argon2          user.Argon2Params      // cost of new hashes; zero means user.DefaultArgon2
	HashConcurrency int                    // hashes computed at once; 0 means GOMAXPROCS/Parallelism
	Now             func() time.Time       // nil means time.Now
	NewID           func() (string, error) // nil means a UUIDv7 string
	Rand            io.Reader              // salt source; nil means crypto/rand
	Metrics         *metrics.Registry      // where outcomes are counted; nil means a private registry
}

// Service runs the user use cases.
type Service struct {
	store  Store
	params user.Argon2Params
	now    func() time.Time
	newID  func() (string, error)
	rand   io.Reader
	// slots bounds concurrent hashes: each one holds MemoryKiB of RAM, so a
	// burst of logins would otherwise take the pod out of memory.
	slots chan struct{}

	dummyOnce sync.Once
	dummy     string

	registrations   *prometheus.CounterVec
	authentications *prometheus.CounterVec
	hashSeconds     prometheus.Histogram
}

// NewService returns a Service over store.
func NewService(store Store, o Options) (*Service, error) {
	if store == nil {
		return nil, errors.New("user app: nil store")
	}
	if o.Argon2 == (user.Argon2Params{}) {
		o.Argon2 = user.DefaultArgon2
	}
	if err := o.Argon2.Validate(); err != nil {
		return nil, fmt.Errorf("user app: %w", err)
	}
	if o.HashConcurrency <= 0 {
		// Each hash keeps Parallelism threads busy, so this many saturate
		// the CPUs; more would only queue inside the runtime holding memory.
		o.HashConcurrency = max(1, runtime.GOMAXPROCS(0)/int(o.Argon2.Parallelism))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = newUUIDv7
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New("user", false)
	}
	s := &Service{
		store: store, params: o.Argon2, now: o.Now, newID: o.NewID, rand: o.Rand,
		slots: make(chan struct{}, o.HashConcurrency),
	}
	if err := s.registerMetrics(o.Metrics); err != nil {
		return nil, fmt.Errorf("user app: metrics: %w", err)
	}
	return s, nil
}

func (s *Service) registerMetrics(reg *metrics.Registry) error {
	labels := prometheus.Labels{"unit": reg.Unit}
	s.registrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoplab_user_registrations_total", Help: "Registrations by result (created, duplicate, invalid, error).", ConstLabels: labels,
	}, []string{"result"})
	s.authentications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoplab_user_authentications_total", Help: "Authentications by result (ok, rejected, error).", ConstLabels: labels,
	}, []string{"result"})
	s.hashSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shoplab_user_password_hash_seconds", Help: "Time to compute one argon2id hash, excluding the wait for a slot.", ConstLabels: labels,
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	for _, c := range []prometheus.Collector{s.registrations, s.authentications, s.hashSeconds} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func newUUIDv7() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Register opens an account; errs.Invalid names the field at fault and
// errs.Conflict means the email is taken.
func (s *Service) Register(ctx context.Context, email, password, name string) (u user.User, err error) {
	defer func() { s.registrations.WithLabelValues(registrationResult(err)).Inc() }()
	reg, err := user.NewRegistration(email, password, name)
	if err != nil {
		return user.User{}, err
	}
	// A cheap read first spares an expensive hash for the common duplicate;
	// the UNIQUE index still decides races.
	if _, err := s.store.ByEmail(ctx, reg.Email); err == nil {
		return user.User{}, errEmailTaken()
	} else if !errs.Is(err, errs.NotFound) {
		return user.User{}, err
	}
	var hash string
	err = s.withHashSlot(ctx, func() error {
		var herr error
		hash, herr = user.HashPassword(s.params, s.rand, reg.Password)
		return herr
	})
	if err != nil {
		return user.User{}, err
	}
	id, err := s.newID()
	if err != nil {
		return user.User{}, fmt.Errorf("new user id: %w", err)
	}
	u = user.User{
		ID: id, Email: reg.Email, Name: reg.Name, PasswordHash: hash,
		// Microseconds in UTC: the finest precision every store (PostgreSQL
		// included) keeps, so a user reads back exactly as written.
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	if err := s.store.Create(ctx, u); err != nil {
		if errs.Is(err, errs.Conflict) {
			return user.User{}, errEmailTaken()
		}
		return user.User{}, err
	}
	return u, nil
}

func registrationResult(err error) string {
	switch errs.CodeOf(err) {
	case "":
		return "created"
	case errs.Conflict:
		return "duplicate"
	case errs.Invalid:
		return "invalid"
	}
	return "error"
}

func errEmailTaken() error { return errs.E(errs.Conflict, "an account with this email already exists") }

// errBadCredentials is the one answer to every failed login: the same code
// and message whether the email is unknown or the password wrong, so the
// API does not tell which emails have accounts.
func errBadCredentials() error { return errs.E(errs.Unauthenticated, "invalid email or password") }

// Authenticate returns the user whose email and password these are, or
// errs.Unauthenticated.
func (s *Service) Authenticate(ctx context.Context, email, password string) (u user.User, err error) {
	defer func() {
		result := "error"
		switch errs.CodeOf(err) {
		case "":
			result = "ok"
		case errs.Unauthenticated, errs.Invalid:
			result = "rejected"
		}
		s.authentications.WithLabelValues(result).Inc()
	}()
	if email == "" {
		return user.User{}, errs.InvalidField("email", "email is required")
	}
	if password == "" {
		return user.User{}, errs.InvalidField("password", "password is required")
	}
	norm, err := user.NormalizeEmail(email)
	if err != nil || user.CheckPassword(password) != nil {
		// No account can have these, so saying so reveals nothing.
		return user.User{}, errBadCredentials()
	}
	u, err = s.store.ByEmail(ctx, norm)
	if errs.Is(err, errs.NotFound) {
		// Spend the time a real check takes, so response times do not tell
		// unknown emails from wrong passwords either.
		// A busy-slot timeout is reported as for a known email, for the same reason.
		if err := s.withHashSlot(ctx, func() error {
			_, _ = user.VerifyPassword(s.dummyHash(), password)
			return nil
		}); err != nil {
			return user.User{}, err
		}
		return user.User{}, errBadCredentials()
	}
	if err != nil {
		return user.User{}, err
	}
	ok, err := s.verify(ctx, u.PasswordHash, password)
	if err != nil {
		return user.User{}, err
	}
	if !ok {
		return user.User{}, errBadCredentials()
	}
	return u, nil
}

// GetUser returns one user; errs.NotFound when there is none.
func (s *Service) GetUser(ctx context.Context, id string) (user.User, error) {
	if id == "" {
		return user.User{}, errs.InvalidField("id", "id is required")
	}
	if _, err := uuid.Parse(id); err != nil {
		return user.User{}, errs.InvalidField("id", "id must be a UUID")
	}
	return s.store.ByID(ctx, id)
}

func (s *Service) verify(ctx context.Context, hash, password string) (bool, error) {
	var ok bool
	err := s.withHashSlot(ctx, func() error {
		var verr error
		ok, verr = user.VerifyPassword(hash, password)
		if verr != nil {
			return errs.Wrap(errs.Internal, verr, "stored password hash is unusable")
		}
		return nil
	})
	return ok, err
}

// dummyHash is a hash with the current parameters, made once (inside a
// hashing slot, by its first caller), to verify against when the email is
// unknown. Its salt comes from crypto/rand, not the injected source: it
// never needs to be reproduced.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := user.HashPassword(s.params, rand.Reader, "no account has this password")
		if err != nil {
			// Fall back to a well-formed hash with the same cost; a fixed salt
			// is harmless because nothing ever matches it.
			h = fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$c2hvcGxhYnNhbHQxMjM0NQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				s.params.MemoryKiB, s.params.Iterations, s.params.Parallelism)
		}
		s.dummy = h
	})
	return s.dummy
}

// withHashSlot runs f once a hashing slot is free, or gives up when ctx ends.
func (s *Service) withHashSlot(ctx context.Context, f func() error) error {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for a password hashing slot: %w", ctx.Err())
	}
	defer func() { <-s.slots }()
	start := time.Now()
	err := f()
	s.hashSeconds.Observe(time.Since(start).Seconds())
	return err
}
