package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	shopevents "github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/adapters/mailbox"
	"github.com/shoplab/shoplab/services/notification/adapters/sqlite"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// clock is a settable clock for leases.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// flakyMailer fails while failures > 0, then delegates. It counts the
// sends that reached the backend: the mailbox itself ignores a resent event,
// so only this count shows that the dedup store did its job.
type flakyMailer struct {
	app.Mailer
	failures atomic.Int32
	err      error
	sends    atomic.Int32
}

func (f *flakyMailer) Send(ctx context.Context, m notification.Email) error {
	if f.failures.Add(-1) >= 0 {
		return f.err
	}
	f.sends.Add(1)
	return f.Mailer.Send(ctx, m)
}

// markFails makes MarkSent fail, as a crash right after the send would.
type markFails struct{ app.DedupStore }

func (markFails) MarkSent(context.Context, string, time.Time) error {
	return errs.E(errs.Unavailable, "store went away")
}

type fixture struct {
	h      *app.Handler
	mb     *mailbox.Mailbox
	dedup  app.DedupStore
	clock  *clock
	mailer *flakyMailer
}

func newFixture(t *testing.T, cfg app.Config, wrap func(app.DedupStore) app.DedupStore) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := t.Context()
	mb, err := mailbox.Open(ctx, filepath.Join(dir, "mailbox.db"), mailbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mb.Close() })
	store, err := sqlite.Open(ctx, filepath.Join(dir, "dedup.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	f := &fixture{mb: mb, dedup: store, clock: &clock{t: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)}}
	if wrap != nil {
		f.dedup = wrap(store)
	}
	f.mailer = &flakyMailer{Mailer: mb, err: errs.E(errs.Unavailable, "smtp relay down")}
	f.h, err = app.NewHandler(cfg, app.Deps{Mailer: f.mailer, Dedup: f.dedup, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) emails(t *testing.T) []mailbox.Message {
	t.Helper()
	msgs, err := f.mb.List(t.Context(), mailbox.MaxListLimit)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func order(n int) shopevents.OrderPlaced {
	return shopevents.OrderPlaced{
		SchemaVersion: shopevents.SchemaVersion,
		EventID:       fmt.Sprintf("evt-%d", n),
		Type:          shopevents.TypeOrderPlaced,
		OccurredAt:    time.Date(2026, 4, 1, 9, 30, 0, 0, time.UTC),
		OrderID:       fmt.Sprintf("ord-%d", n),
		UserID:        fmt.Sprintf("usr-%d", n),
		UserEmail:     fmt.Sprintf("buyer%d@example.com", n),
		Items: []shopevents.LineItem{
			{ProductID: "book-1", Quantity: 2, UnitPriceCents: 1250, Category: "books"},
			{ProductID: "pen-9", Quantity: 1, UnitPriceCents: 199, Category: "office"},
		},
		TotalCents: 2699,
		Currency:   "USD",
	}
}

// rec is a Kafka record as MSK delivers it.
type rec struct {
	partition, offset int64
	value             string // raw, base64-encoded by batch
	rawBase64         string // used as is when set
}

func encode(t *testing.T, e shopevents.OrderPlaced) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func batch(recs ...rec) events.KafkaEvent {
	ev := events.KafkaEvent{EventSource: "aws:kafka", Records: map[string][]events.KafkaRecord{}}
	for _, r := range recs {
		v := r.rawBase64
		if v == "" && r.value != "" {
			v = base64.StdEncoding.EncodeToString([]byte(r.value))
		}
		k := fmt.Sprintf("orders-%d", r.partition)
		ev.Records[k] = append(ev.Records[k], events.KafkaRecord{Topic: "orders", Partition: r.partition, Offset: r.offset, Value: v})
	}
	return ev
}

func TestHandleSendsOneEmailPerEvent(t *testing.T) {
	f := newFixture(t, app.Config{}, nil)
	e1, e2 := order(1), order(2)
	if err := f.h.Handle(t.Context(), batch(rec{0, 1, encode(t, e1), ""}, rec{1, 1, encode(t, e2), ""})); err != nil {
		t.Fatal(err)
	}
	got := f.emails(t)
	if len(got) != 2 {
		t.Fatalf("%d emails, want 2: %+v", len(got), got)
	}
	byOrder := map[string]mailbox.Message{}
	for _, m := range got {
		byOrder[m.OrderID] = m
	}
	m := byOrder["ord-1"]
	if m.To != "buyer1@example.com" || m.From != app.DefaultSender || m.EventID != "evt-1" {
		t.Fatalf("email = %+v", m)
	}
	if m.Subject != "Your shoplab order ord-1 is confirmed" {
		t.Fatalf("subject = %q", m.Subject)
	}
	for _, want := range []string{"2 x book-1 (books) at 12.50 USD = 25.00 USD", "1 x pen-9 (office) at 1.99 USD = 1.99 USD", "Total: 26.99 USD"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
}

func TestHandleDeduplicates(t *testing.T) {
	tests := []struct {
		name    string
		batches func(t *testing.T) []events.KafkaEvent
		want    []string // order ids with one email each
	}{
		{"same event twice in one batch", func(t *testing.T) []events.KafkaEvent {
			v := encode(t, order(1))
			return []events.KafkaEvent{batch(rec{0, 1, v, ""}, rec{0, 2, v, ""}, rec{0, 3, encode(t, order(2)), ""})}
		}, []string{"ord-1", "ord-2"}},
		{"same event in two partitions of one batch", func(t *testing.T) []events.KafkaEvent {
			v := encode(t, order(1))
			return []events.KafkaEvent{batch(rec{0, 1, v, ""}, rec{2, 9, v, ""})}
		}, []string{"ord-1"}},
		{"redelivered batch", func(t *testing.T) []events.KafkaEvent {
			b := batch(rec{0, 1, encode(t, order(1)), ""}, rec{0, 2, encode(t, order(2)), ""})
			return []events.KafkaEvent{b, b}
		}, []string{"ord-1", "ord-2"}},
		{"re-published outbox row, later batch", func(t *testing.T) []events.KafkaEvent {
			v := encode(t, order(1))
			return []events.KafkaEvent{batch(rec{0, 1, v, ""}), batch(rec{0, 57, v, ""})}
		}, []string{"ord-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, app.Config{}, nil)
			for i, b := range tc.batches(t) {
				if err := f.h.Handle(t.Context(), b); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
			}
			got := f.emails(t)
			count := map[string]int{}
			for _, m := range got {
				count[m.OrderID]++
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d emails (%v), want one for each of %v", len(got), count, tc.want)
			}
			for _, id := range tc.want {
				if count[id] != 1 {
					t.Fatalf("order %s got %d emails, want 1", id, count[id])
				}
			}
			if n := f.mailer.sends.Load(); int(n) != len(tc.want) {
				t.Fatalf("the mailer was called %d times, want %d", n, len(tc.want))
			}
		})
	}
}

func TestHandlePoisonRecordsAreNamed(t *testing.T) {
	bad := order(9)
	bad.Type = "OrderShipped"
	tests := []struct {
		name string
		r    rec
	}{
		{"not base64", rec{2, 41, "", "%%%not-base64"}},
		{"not json", rec{2, 41, "{nope", ""}},
		{"wrong type", rec{2, 41, encode(t, bad), ""}},
		{"no value", rec{2, 41, "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, app.Config{}, nil)
			err := f.h.Handle(t.Context(), batch(rec{2, 40, encode(t, order(1)), ""}, tc.r, rec{2, 42, encode(t, order(2)), ""}))
			var be *app.BatchError
			if !errors.As(err, &be) {
				t.Fatalf("Handle = %v, want a *app.BatchError", err)
			}
			if len(be.Failures) != 1 || be.Failures[0].Ref() != "orders-2@41" || be.Total != 3 {
				t.Fatalf("failures = %+v, want only orders-2@41 of 3", be.Failures)
			}
			if !errs.Is(be.RecordErr("orders", 2, 41), errs.Invalid) || be.RecordErr("orders", 2, 40) != nil {
				t.Fatalf("RecordErr: 41 = %v, 40 = %v; want invalid_argument and nil", be.RecordErr("orders", 2, 41), be.RecordErr("orders", 2, 40))
			}
			if !strings.Contains(err.Error(), "orders-2@41") {
				t.Fatalf("error %q does not name the record", err)
			}
			// The good records around the poison one were still handled.
			if got := f.emails(t); len(got) != 2 {
				t.Fatalf("%d emails, want the 2 good records' emails", len(got))
			}
		})
	}
}

// TestHandleSkipsWatermarkTicks: the Flink engine's ticker writes ticks
// to orders; they are neither emails nor poison (before, each one went to
// the DLQ after three attempts).
func TestHandleSkipsWatermarkTicks(t *testing.T) {
	f := newFixture(t, app.Config{}, nil)
	tick := string(shopevents.EncodeWatermarkTick(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)))
	if err := f.h.Handle(t.Context(), batch(rec{0, 1, encode(t, order(1)), ""}, rec{0, 2, tick, ""})); err != nil {
		t.Fatalf("Handle = %v, want a tick skipped without error", err)
	}
	if got := f.emails(t); len(got) != 1 {
		t.Fatalf("%d emails, want the order's one", len(got))
	}
}

func TestHandleRecipientFallback(t *testing.T) {
	noEmail := order(3)
	noEmail.UserEmail = ""
	badEmail := order(4)
	badEmail.UserEmail = "not-an-address"

	t.Run("with a fallback domain", func(t *testing.T) {
		f := newFixture(t, app.Config{FallbackDomain: "users.shoplab.local"}, nil)
		if err := f.h.Handle(t.Context(), batch(rec{0, 1, encode(t, noEmail), ""}, rec{0, 2, encode(t, badEmail), ""})); err != nil {
			t.Fatal(err)
		}
		to := map[string]string{}
		for _, m := range f.emails(t) {
			to[m.OrderID] = m.To
		}
		if to["ord-3"] != "user-usr-3@users.shoplab.local" || to["ord-4"] != "user-usr-4@users.shoplab.local" {
			t.Fatalf("recipients = %v, want the derived addresses", to)
		}
	})
	t.Run("without one the email is skipped", func(t *testing.T) {
		f := newFixture(t, app.Config{}, nil)
		if err := f.h.Handle(t.Context(), batch(rec{0, 1, encode(t, noEmail), ""}, rec{0, 2, encode(t, order(5)), ""})); err != nil {
			t.Fatalf("a skipped email must not fail the batch: %v", err)
		}
		if got := f.emails(t); len(got) != 1 || got[0].OrderID != "ord-5" {
			t.Fatalf("emails = %+v, want only ord-5's", got)
		}
	})
}

func TestHandleFailedSendIsRetriedAtOnce(t *testing.T) {
	f := newFixture(t, app.Config{}, nil)
	f.mailer.failures.Store(1)
	b := batch(rec{1, 7, encode(t, order(1)), ""})
	err := f.h.Handle(t.Context(), b)
	if !errs.Is(err, errs.Unavailable) || !strings.Contains(err.Error(), "orders-1@7") {
		t.Fatalf("Handle = %v, want unavailable naming orders-1@7", err)
	}
	// The claim was released: the retry needs no lease to pass.
	if err := f.h.Handle(t.Context(), b); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := f.emails(t); len(got) != 1 {
		t.Fatalf("%d emails, want 1", len(got))
	}
}

func TestHandleCrashAfterClaimIsRecoveredAfterTheLease(t *testing.T) {
	f := newFixture(t, app.Config{}, nil)
	// An invocation claimed the event, then its process died.
	res, err := f.dedup.Claim(t.Context(), "evt-1", "ord-1", "crashed", f.clock.Now(), app.DefaultClaimLease)
	if err != nil || res != app.Claimed {
		t.Fatalf("claim = %v, %v", res, err)
	}
	b := batch(rec{0, 1, encode(t, order(1)), ""})
	if err := f.h.Handle(t.Context(), b); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Handle within the lease = %v, want unavailable (retry later)", err)
	}
	if got := f.emails(t); len(got) != 0 {
		t.Fatalf("sent while another invocation held the event: %+v", got)
	}
	f.clock.Advance(app.DefaultClaimLease)
	if err := f.h.Handle(t.Context(), b); err != nil {
		t.Fatalf("Handle after the lease: %v", err)
	}
	if got := f.emails(t); len(got) != 1 {
		t.Fatalf("%d emails, want 1", len(got))
	}
	if n := f.mailer.sends.Load(); n != 1 {
		t.Fatalf("the mailer was called %d times, want 1", n)
	}
}

func TestHandleCrashAfterSendSendsNoDuplicateToTheMailbox(t *testing.T) {
	f := newFixture(t, app.Config{}, func(s app.DedupStore) app.DedupStore { return markFails{s} })
	b := batch(rec{0, 1, encode(t, order(1)), ""})
	if err := f.h.Handle(t.Context(), b); err != nil {
		t.Fatalf("an email that went out must not fail its record: %v", err)
	}
	f.clock.Advance(app.DefaultClaimLease) // the unmarked claim expires
	if err := f.h.Handle(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if got := f.emails(t); len(got) != 1 {
		t.Fatalf("%d emails, want 1: the mailbox is idempotent per event", len(got))
	}
}

func TestHandleConcurrentInvocationsSendOnce(t *testing.T) {
	f := newFixture(t, app.Config{}, nil)
	var recs []rec
	for i := range 6 {
		recs = append(recs, rec{int64(i % 3), int64(i), encode(t, order(i)), ""})
	}
	b := batch(recs...)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			// Like a runner: retry until the batch succeeds.
			for try := 0; ; try++ {
				err := f.h.Handle(t.Context(), b)
				if err == nil {
					return
				}
				if !errs.Is(err, errs.Unavailable) || try > 100 {
					t.Errorf("Handle = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := f.emails(t)
	seen := map[string]int{}
	for _, m := range got {
		seen[m.OrderID]++
	}
	if len(got) != 6 || len(seen) != 6 {
		t.Fatalf("%d emails for %d orders, want 6 for 6: %v", len(got), len(seen), seen)
	}
	if n := f.mailer.sends.Load(); n != 6 {
		t.Fatalf("the mailer was called %d times, want 6", n)
	}
}

func TestHandleOutOfTimeFailsTheRestTransiently(t *testing.T) {
	f := newFixture(t, app.Config{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := f.h.Handle(ctx, batch(rec{0, 1, encode(t, order(1)), ""}, rec{0, 2, encode(t, order(2)), ""}))
	var be *app.BatchError
	if !errors.As(err, &be) || len(be.Failures) != 2 {
		t.Fatalf("Handle = %v, want both records failed", err)
	}
	for _, fl := range be.Failures {
		if errs.Is(fl.Err, errs.Invalid) {
			t.Fatalf("%s failed as poison (%v); a timeout is transient", fl.Ref(), fl.Err)
		}
	}
}

func TestNewHandlerValidates(t *testing.T) {
	f := newFixture(t, app.Config{}, nil)
	deps := app.Deps{Mailer: f.mb, Dedup: f.dedup}
	for _, tc := range []struct {
		field string
		cfg   app.Config
		deps  app.Deps
	}{
		{"Mailer", app.Config{}, app.Deps{Dedup: f.dedup}},
		{"Dedup", app.Config{}, app.Deps{Mailer: f.mb}},
		{"Sender", app.Config{Sender: "not an address"}, deps},
		{"FallbackDomain", app.Config{FallbackDomain: "bad domain"}, deps},
		{"ClaimLease", app.Config{ClaimLease: 5 * time.Second}, deps},
	} {
		if _, err := app.NewHandler(tc.cfg, tc.deps); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tc.field {
			t.Errorf("NewHandler(%+v) = %v, want invalid_argument on %s", tc.cfg, err, tc.field)
		}
	}
}
