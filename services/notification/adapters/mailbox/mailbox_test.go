package mailbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/adapters/mailbox"
	"github.com/shoplab/shoplab/services/notification/notificationtest"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func mustOpen(t *testing.T, now func() time.Time) *mailbox.Mailbox {
	t.Helper()
	mb, err := mailbox.Open(t.Context(), filepath.Join(t.TempDir(), "mailbox.db"), mailbox.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mb.Close() })
	return mb
}

func TestMailerContract(t *testing.T) {
	notificationtest.RunMailerContract(t, func(t *testing.T) notificationtest.MailerHarness {
		mb := mustOpen(t, nil)
		return notificationtest.MailerHarness{
			Mailer: mb,
			From:   "orders@shoplab.local",
			Delivered: func(ctx context.Context) ([]notification.Email, error) {
				msgs, err := mb.List(ctx, mailbox.MaxListLimit)
				if err != nil {
					return nil, err
				}
				out := make([]notification.Email, len(msgs))
				for i, m := range msgs {
					out[i] = notification.Email{EventID: m.EventID, OrderID: m.OrderID, From: m.From, To: m.To, Subject: m.Subject, Body: m.Body}
				}
				return out, nil
			},
			IdempotentPerEvent: true,
		}
	})
}

func TestListNewestFirstWithLimit(t *testing.T) {
	ctx := t.Context()
	clock := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	mb := mustOpen(t, func() time.Time { return clock })
	for i := range 5 {
		clock = clock.Add(time.Minute)
		err := mb.Send(ctx, notification.Email{
			EventID: fmt.Sprintf("e%d", i), OrderID: fmt.Sprintf("o%d", i),
			From: "orders@shoplab.local", To: "a@example.com", Subject: notification.Subject(fmt.Sprintf("o%d", i)), Body: "b",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := mb.List(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].OrderID != "o4" || got[2].OrderID != "o2" {
		t.Fatalf("List(3) = %+v, want o4, o3, o2", got)
	}
	if want := time.Date(2026, 5, 1, 8, 5, 0, 0, time.UTC); !got[0].SentAt.Equal(want) {
		t.Fatalf("sent_at = %v, want the injected clock's %v", got[0].SentAt, want)
	}
	if n, err := mb.Count(ctx); err != nil || n != 5 {
		t.Fatalf("Count = %d, %v; want 5", n, err)
	}
	for _, limit := range []int{0, -1, mailbox.MaxListLimit + 1} {
		if _, err := mb.List(ctx, limit); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "limit" {
			t.Errorf("List(%d) = %v, want invalid_argument on limit", limit, err)
		}
	}
}
