package notificationtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// MailerHarness is one Mailer under test and a view of what its backend
// accepted.
type MailerHarness struct {
	Mailer app.Mailer
	// From is the sender the backend accepts (SES needs it verified).
	From string
	// Delivered returns every email the backend holds for this harness.
	// Backends that do not keep event or order ids leave them empty.
	Delivered func(ctx context.Context) ([]notification.Email, error)
	// IdempotentPerEvent says that sending the same event id twice
	// delivers one email (the mailbox); SES cannot promise it.
	IdempotentPerEvent bool
}

// RunMailerContract runs the Mailer contract. newHarness is called once
// per subtest and must return a harness whose Delivered starts empty.
func RunMailerContract(t *testing.T, newHarness func(t *testing.T) MailerHarness) {
	t.Helper()
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		t.Cleanup(cancel)
		return c
	}
	email := func(h MailerHarness, n int) notification.Email {
		return notification.Email{
			EventID: fmt.Sprintf("evt-%d", n),
			OrderID: fmt.Sprintf("ord-%d", n),
			From:    h.From,
			To:      fmt.Sprintf("customer-%d@example.com", n),
			Subject: notification.Subject(fmt.Sprintf("ord-%d", n)),
			Body:    fmt.Sprintf("Hello,\n\nline two of order %d: 2 x café at 3.50 EUR\n\n-- \nshoplab\n", n),
		}
	}
	delivered := func(t *testing.T, h MailerHarness) []notification.Email {
		t.Helper()
		got, err := h.Delivered(ctx(t))
		if err != nil {
			t.Fatalf("Delivered: %v", err)
		}
		slices.SortFunc(got, func(a, b notification.Email) int { return strings.Compare(a.To, b.To) })
		return got
	}
	same := func(t *testing.T, got, want notification.Email) {
		t.Helper()
		if got.To != want.To || got.Subject != want.Subject || got.Body != want.Body || got.From != want.From {
			t.Fatalf("delivered %+v\nwant      %+v", got, want)
		}
		if (got.EventID != "" && got.EventID != want.EventID) || (got.OrderID != "" && got.OrderID != want.OrderID) {
			t.Fatalf("delivered ids %s/%s, want %s/%s", got.EventID, got.OrderID, want.EventID, want.OrderID)
		}
	}

	t.Run("delivers what it is given", func(t *testing.T) {
		h := newHarness(t)
		want := email(h, 1)
		if err := h.Mailer.Send(ctx(t), want); err != nil {
			t.Fatal(err)
		}
		got := delivered(t, h)
		if len(got) != 1 {
			t.Fatalf("delivered %d emails, want 1", len(got))
		}
		same(t, got[0], want)
	})

	t.Run("distinct events are distinct emails", func(t *testing.T) {
		h := newHarness(t)
		var want []notification.Email
		for i := range 3 {
			m := email(h, 10+i)
			want = append(want, m)
			if err := h.Mailer.Send(ctx(t), m); err != nil {
				t.Fatal(err)
			}
		}
		got := delivered(t, h)
		if len(got) != len(want) {
			t.Fatalf("delivered %d emails, want %d", len(got), len(want))
		}
		for i := range want {
			same(t, got[i], want[i])
		}
	})

	t.Run("resending an event", func(t *testing.T) {
		h := newHarness(t)
		m := email(h, 20)
		for range 2 {
			if err := h.Mailer.Send(ctx(t), m); err != nil {
				t.Fatal(err)
			}
		}
		got := delivered(t, h)
		switch {
		case h.IdempotentPerEvent && len(got) != 1:
			t.Fatalf("idempotent mailer delivered %d emails for one event, want 1", len(got))
		case !h.IdempotentPerEvent && len(got) != 2:
			t.Fatalf("mailer delivered %d emails for two sends, want 2 (it says it is not idempotent)", len(got))
		}
	})

	t.Run("refuses bad emails before sending", func(t *testing.T) {
		h := newHarness(t)
		for _, tc := range []struct {
			field  string
			mutate func(*notification.Email)
		}{
			{"to", func(m *notification.Email) { m.To = "" }},
			{"to", func(m *notification.Email) { m.To = "not an address" }},
			{"from", func(m *notification.Email) { m.From = "" }},
			{"event_id", func(m *notification.Email) { m.EventID = "" }},
			{"subject", func(m *notification.Email) { m.Subject = "a\r\nBcc: victim@example.com" }},
		} {
			m := email(h, 30)
			tc.mutate(&m)
			err := h.Mailer.Send(ctx(t), m)
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tc.field {
				t.Errorf("Send with bad %s = %v, want invalid_argument on %s", tc.field, err, tc.field)
			}
		}
		if got := delivered(t, h); len(got) != 0 {
			t.Fatalf("bad emails were delivered: %+v", got)
		}
	})

	t.Run("a cancelled context fails the send", func(t *testing.T) {
		h := newHarness(t)
		c, cancel := context.WithCancel(t.Context())
		cancel()
		if err := h.Mailer.Send(c, email(h, 40)); err == nil {
			t.Fatal("Send with a cancelled context succeeded")
		} else if code := errs.CodeOf(err); code == errs.Invalid {
			t.Fatalf("cancelled send = %v: a transient failure must not look like a bad message", err)
		}
		if got := delivered(t, h); len(got) != 0 {
			t.Fatalf("cancelled send was delivered: %+v", got)
		}
	})
}
