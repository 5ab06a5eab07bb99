package ses_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/adapters/ses"
	"github.com/shoplab/shoplab/services/notification/notificationtest"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestMailerContractOnMoto(t *testing.T) {
	moto := notificationtest.StartMoto(t)
	client := moto.SES()
	var n atomic.Int64
	notificationtest.RunMailerContract(t, func(t *testing.T) notificationtest.MailerHarness {
		// moto keeps every message of the server; a sender per subtest keeps
		// each subtest's view to its own emails.
		sender := fmt.Sprintf("orders-%d@shoplab.test", n.Add(1))
		if err := moto.VerifySender(t.Context(), sender); err != nil {
			t.Fatal(err)
		}
		return notificationtest.MailerHarness{
			Mailer: ses.New(client, ses.Options{}),
			From:   sender,
			Delivered: func(ctx context.Context) ([]notification.Email, error) {
				return moto.SentEmails(ctx, sender)
			},
			IdempotentPerEvent: false,
		}
	})
}

func TestUnverifiedSenderIsRejected(t *testing.T) {
	moto := notificationtest.StartMoto(t)
	m := ses.New(moto.SES(), ses.Options{})
	err := m.Send(t.Context(), notification.Email{
		EventID: "e", OrderID: "o", From: "nobody@unverified.test", To: "a@example.com",
		Subject: notification.Subject("o"), Body: "b",
	})
	// SES answers MessageRejected: this message cannot be sent as is.
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("send from an unverified sender = %v, want invalid_argument", err)
	}
}

// capture records the request the Mailer builds, to check what moto ignores.
type capture struct{ in *sesv2.SendEmailInput }

func (c *capture) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	c.in = in
	return &sesv2.SendEmailOutput{}, nil
}

func TestRequestCarriesEventID(t *testing.T) {
	c := &capture{}
	err := ses.New(c, ses.Options{ConfigurationSet: "shoplab"}).Send(t.Context(), notification.Email{
		EventID: "3f2a-9b/x", OrderID: "o-1", From: "orders@shoplab.test", To: "a@example.com",
		Subject: notification.Subject("o-1"), Body: "b",
	})
	if err != nil {
		t.Fatal(err)
	}
	h := c.in.Content.Simple.Headers
	if len(h) != 1 || *h[0].Name != ses.EventIDHeader || *h[0].Value != "3f2a-9b/x" {
		t.Fatalf("headers = %+v, want %s: 3f2a-9b/x", h, ses.EventIDHeader)
	}
	if tag := c.in.EmailTags[0]; *tag.Name != "event_id" || *tag.Value != "3f2a-9b_x" {
		t.Fatalf("event tag = %s=%s, want event_id=3f2a-9b_x (SES tag charset)", *tag.Name, *tag.Value)
	}
	if c.in.ConfigurationSetName == nil || *c.in.ConfigurationSetName != "shoplab" {
		t.Fatalf("configuration set = %v, want shoplab", c.in.ConfigurationSetName)
	}
}
