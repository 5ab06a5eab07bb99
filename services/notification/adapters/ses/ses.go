// Package ses is the Mailer of the host, compose and AWS envs: Amazon SES v2
// SendEmail (LocalStack or moto_server stand in for it off AWS).
package ses

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// EventIDHeader carries the event id on every email, so that a duplicate
// sent in the crash window of the dedup protocol can be recognised
// downstream: SES has no idempotency key of its own.
const EventIDHeader = "X-Shoplab-Event-Id"

// API is the part of the SES v2 client the Mailer uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Options configures a Mailer.
type Options struct {
	ConfigurationSet string // SES configuration set for event publishing; "" for none
}

// Mailer sends through SES. It is not idempotent: SES accepts the same
// message twice, so duplicates are prevented by the dedup store alone.
type Mailer struct {
	api API
	o   Options
}

var _ app.Mailer = (*Mailer)(nil)

// New returns a Mailer on api (an *sesv2.Client).
func New(api API, o Options) *Mailer { return &Mailer{api: api, o: o} }

// Send implements app.Mailer.
func (m *Mailer) Send(ctx context.Context, e notification.Email) error {
	if err := e.Validate(); err != nil {
		return err
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(e.From),
		Destination:      &types.Destination{ToAddresses: []string{e.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(e.Subject), Charset: aws.String("UTF-8")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(e.Body), Charset: aws.String("UTF-8")}},
			Headers: []types.MessageHeader{{Name: aws.String(EventIDHeader), Value: aws.String(e.EventID)}},
		}},
		EmailTags: []types.MessageTag{
			{Name: aws.String("event_id"), Value: aws.String(tagValue(e.EventID))},
			{Name: aws.String("order_id"), Value: aws.String(tagValue(e.OrderID))},
		},
	}
	if m.o.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(m.o.ConfigurationSet)
	}
	if _, err := m.api.SendEmail(ctx, in); err != nil {
		return sendErr(err)
	}
	return nil
}

// tagValue keeps the characters SES allows in a tag value.
func tagValue(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
	if len(s) > 256 {
		s = s[:256]
	}
	return s
}

// sendErr sorts SES failures into: this message is bad (Invalid: retrying
// cannot help, the runner dead-letters it), the account or setup is wrong
// (FailedPrecondition: every message would fail, so retry and alert rather
// than dead-letter the whole stream), or try again (Unavailable).
func sendErr(err error) error {
	if c := errs.CodeOf(err); c == errs.DeadlineExceeded {
		return errs.Wrap(c, err, "ses send timed out")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return errs.Wrap(errs.Unavailable, err, "ses send failed")
	}
	switch ae.ErrorCode() {
	case "MessageRejected", "BadRequestException", "InvalidParameterValue":
		return errs.Wrap(errs.Invalid, err, "ses rejected the message")
	case "MailFromDomainNotVerifiedException", "AccountSuspendedException", "SendingPausedException", "NotFoundException":
		return errs.Wrap(errs.FailedPrecondition, err, "ses cannot send for this account or sender")
	}
	return errs.Wrap(errs.Unavailable, err, "ses send failed")
}
