package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	shopevents "github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/internal/obs"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Defaults for Config's zero values.
const (
	DefaultSender       = "orders@shoplab.local"
	DefaultClaimLease   = 30 * time.Second
	DefaultSendTimeout  = 10 * time.Second
	DefaultStoreTimeout = 3 * time.Second
)

// Config holds the handler's settings.
type Config struct {
	Sender         string        // From address; "" means DefaultSender. SES needs it verified.
	FallbackDomain string        // see notification.Recipient; "" skips events without a usable user_email
	ClaimLease     time.Duration // how long a claim blocks other senders; must exceed SendTimeout+2*StoreTimeout
	SendTimeout    time.Duration // deadline of one Mailer.Send
	StoreTimeout   time.Duration // deadline of one DedupStore call
}

// Deps are the handler's ports and tools.
type Deps struct {
	Mailer   Mailer
	Dedup    DedupStore
	Log      *slog.Logger      // nil discards
	Metrics  *metrics.Registry // nil keeps the counters unexported
	Now      func() time.Time  // nil means time.Now
	NewToken func() string     // claim owner ids; nil means random UUIDs
}

// Handler sends one confirmation email per OrderPlaced event in a batch of
// Kafka records. Its Handle method has the AWS Lambda signature for MSK
// event sources, and the local event-source runner calls the very same
// method.
//
// Exactly-once delivery is built from three steps per event: Claim the event
// id in the DedupStore (a conditional write with a lease), Send, MarkSent.
//   - A redelivered or duplicated record finds the event sent and is skipped.
//   - Two concurrent invocations race on the conditional write; the loser
//     gets HeldByOther and fails the record with Unavailable, so its batch is
//     retried and then finds the event sent.
//   - A failed send releases the claim, so the retry sends at once.
//   - A crash after Claim leaves a claim that no one releases; its lease
//     runs out and the next delivery takes it over, so the email is late,
//     never lost.
//   - A crash after the backend accepted the email but before MarkSent is
//     the one window for a duplicate. The local mailbox closes it (its
//     event_id column is UNIQUE, so a resend is a no-op); SES cannot, so in
//     AWS that crash yields at most one extra email after the lease.
//
// The key is the event id, not the order id: the order unit's outbox keeps a
// row's event id across re-publications, and an order has one OrderPlaced.
type Handler struct {
	cfg      Config
	mailer   Mailer
	dedup    DedupStore
	log      *slog.Logger
	now      func() time.Time
	newToken func() string

	sent, duplicates, skipped, invalid, ticks, markErrors prometheus.Counter
}

// NewHandler checks cfg and returns a Handler.
func NewHandler(cfg Config, deps Deps) (*Handler, error) {
	if cfg.Sender == "" {
		cfg.Sender = DefaultSender
	}
	if cfg.ClaimLease == 0 {
		cfg.ClaimLease = DefaultClaimLease
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	switch {
	case deps.Mailer == nil:
		return nil, errs.InvalidField("Mailer", "is required")
	case deps.Dedup == nil:
		return nil, errs.InvalidField("Dedup", "is required")
	case cfg.SendTimeout < 0 || cfg.StoreTimeout < 0:
		return nil, errs.InvalidField("SendTimeout", "timeouts must be positive")
	case cfg.ClaimLease <= cfg.SendTimeout+2*cfg.StoreTimeout:
		// A lease that can run out while its holder is still sending would
		// let a second invocation send the same email.
		return nil, errs.InvalidField("ClaimLease", "%s must exceed SendTimeout+2*StoreTimeout (%s)", cfg.ClaimLease, cfg.SendTimeout+2*cfg.StoreTimeout)
	}
	if _, err := notification.ParseAddress(cfg.Sender); err != nil {
		return nil, errs.InvalidField("Sender", "%s", errs.MessageOf(err))
	}
	if cfg.FallbackDomain != "" {
		if _, err := notification.ParseAddress("x@" + cfg.FallbackDomain); err != nil {
			return nil, errs.InvalidField("FallbackDomain", "%q is not a mail domain", cfg.FallbackDomain)
		}
	}
	h := &Handler{
		cfg:      cfg,
		mailer:   deps.Mailer,
		dedup:    deps.Dedup,
		log:      deps.Log,
		now:      deps.Now,
		newToken: deps.NewToken,
	}
	if h.log == nil {
		h.log = logx.Discard()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.newToken == nil {
		h.newToken = uuid.NewString
	}
	reg := deps.Metrics
	h.sent = obs.Counter(reg, "shoplab_notification_emails_sent_total", "Confirmation emails handed to the mail backend.")
	h.duplicates = obs.Counter(reg, "shoplab_notification_duplicates_skipped_total", "Records skipped because their event's email was already sent.")
	h.skipped = obs.Counter(reg, "shoplab_notification_emails_skipped_total", "Events skipped because they carry no usable recipient.")
	h.invalid = obs.Counter(reg, "shoplab_notification_invalid_records_total", "Records that are not a valid base64 OrderPlaced event.")
	h.ticks = obs.Counter(reg, "shoplab_notification_watermark_ticks_skipped_total", "Watermark ticks (the Flink engine's quiet-source records) skipped: no email, no dead letter.")
	h.markErrors = obs.Counter(reg, "shoplab_notification_mark_sent_errors_total", "Emails sent whose sent mark failed to record (their claim lease still guards them).")
	return h, nil
}

// RecordFailure names one record of a batch that failed, and why.
type RecordFailure struct {
	Topic     string
	Partition int64
	Offset    int64
	Err       error
}

// Ref is the record's "topic-partition@offset" name.
func (f RecordFailure) Ref() string { return recordRef(f.Topic, f.Partition, f.Offset) }

func recordRef(topic string, partition, offset int64) string {
	return fmt.Sprintf("%s-%d@%d", topic, partition, offset)
}

// BatchError is what Handle returns when some records failed: it names each
// failed record, so that Lambda's logs and the local runner can tell which
// record to retry and, when it stays poison, to dead-letter. The records not
// named were handled, and retrying them is harmless (they are deduplicated).
type BatchError struct {
	Total    int // records in the batch
	Failures []RecordFailure
}

// Error lists the failed records.
func (e *BatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notification: %d of %d records failed", len(e.Failures), e.Total)
	for i, f := range e.Failures {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failures)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %v", f.Ref(), f.Err)
	}
	return b.String()
}

// Unwrap gives the record errors, so errs.CodeOf sees the first one's code.
func (e *BatchError) Unwrap() []error {
	out := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f.Err
	}
	return out
}

// RecordErr returns the error of the record at topic/partition/offset, or
// nil if that record did not fail. The event-source runner finds failed
// records through this method.
func (e *BatchError) RecordErr(topic string, partition, offset int64) error {
	for _, f := range e.Failures {
		if f.Topic == topic && f.Partition == partition && f.Offset == offset {
			return f.Err
		}
	}
	return nil
}

// Handle processes every record of ev, in partition order, and returns a
// *BatchError naming the records that failed. Undecodable records fail with
// an Invalid error (poison: retrying cannot help); store and mail outages
// fail with Unavailable or DeadlineExceeded. Records are processed one at a
// time so that a duplicate within the batch finds its twin already sent.
func (h *Handler) Handle(ctx context.Context, ev events.KafkaEvent) error {
	keys := make([]string, 0, len(ev.Records))
	total := 0
	for k, recs := range ev.Records {
		keys = append(keys, k)
		total += len(recs)
	}
	slices.Sort(keys)
	var failures []RecordFailure
	for _, k := range keys {
		for _, rec := range ev.Records[k] {
			var err error
			if cerr := ctx.Err(); cerr != nil {
				// The invocation ran out of time: name the rest as failed
				// (transient) rather than pretend they were handled.
				err = fmt.Errorf("record %s not processed: %w", recordRef(rec.Topic, rec.Partition, rec.Offset), cerr)
			} else {
				err = h.handleRecord(ctx, rec)
			}
			if err != nil {
				failures = append(failures, RecordFailure{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: err})
			}
		}
	}
	if len(failures) > 0 {
		return &BatchError{Total: total, Failures: failures}
	}
	return nil
}

func (h *Handler) handleRecord(ctx context.Context, rec events.KafkaRecord) error {
	ref := recordRef(rec.Topic, rec.Partition, rec.Offset)
	e, err := decodeRecord(rec)
	if errors.Is(err, shopevents.ErrWatermarkTick) {
		h.ticks.Inc()
		return nil
	}
	if err != nil {
		h.invalid.Inc()
		return errs.Wrap(errs.Invalid, err, "record %s is not a valid OrderPlaced event", ref)
	}
	log := h.log.With("record", ref, "event_id", e.EventID, "order_id", e.OrderID)
	to, ok := notification.Recipient(e, h.cfg.FallbackDomain)
	if !ok {
		h.skipped.Inc()
		log.WarnContext(ctx, "no usable recipient: confirmation email skipped", "user_id", e.UserID, "user_email", e.UserEmail)
		return nil
	}
	m, err := notification.Confirmation(e, h.cfg.Sender, to)
	if err != nil {
		h.invalid.Inc()
		return fmt.Errorf("record %s: %w", ref, err)
	}

	token := h.newToken()
	sctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	res, err := h.dedup.Claim(sctx, e.EventID, e.OrderID, token, h.now(), h.cfg.ClaimLease)
	cancel()
	if err != nil {
		return fmt.Errorf("record %s: claim event %s: %w", ref, e.EventID, err)
	}
	switch res {
	case AlreadySent:
		h.duplicates.Inc()
		log.DebugContext(ctx, "duplicate event: email already sent")
		return nil
	case HeldByOther:
		return errs.E(errs.Unavailable, "record %s: event %s is being sent by another invocation; retry after its lease", ref, e.EventID)
	case Claimed:
	default:
		return errs.E(errs.Internal, "record %s: dedup store answered %v", ref, res)
	}

	mctx, cancel := context.WithTimeout(ctx, h.cfg.SendTimeout)
	err = h.mailer.Send(mctx, m)
	cancel()
	// The claim's bookkeeping must happen even when the invocation's context
	// was cancelled mid-send, hence a detached context with its own deadline.
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.StoreTimeout)
	defer bcancel()
	if err != nil {
		if rerr := h.dedup.Release(bctx, e.EventID, token); rerr != nil {
			log.WarnContext(ctx, "release claim after failed send; retry waits for the lease", "error", rerr)
		}
		return fmt.Errorf("record %s: send confirmation of order %s: %w", ref, e.OrderID, err)
	}
	h.sent.Inc()
	if err := h.dedup.MarkSent(bctx, e.EventID, h.now()); err != nil {
		// The email is out. Failing the record would resend it after the
		// lease; succeeding leaves the claim to guard against redelivery
		// until the lease ends, the smaller risk.
		h.markErrors.Inc()
		log.ErrorContext(ctx, "email sent but not marked sent", "error", err)
		return nil
	}
	log.DebugContext(ctx, "confirmation email sent", "to", m.To)
	return nil
}

func decodeRecord(rec events.KafkaRecord) (shopevents.OrderPlaced, error) {
	if rec.Value == "" {
		return shopevents.OrderPlaced{}, errors.New("record has no value")
	}
	raw, err := base64.StdEncoding.DecodeString(rec.Value)
	if err != nil {
		return shopevents.OrderPlaced{}, fmt.Errorf("value is not base64: %w", err)
	}
	return shopevents.DecodeOrderPlaced(raw)
}
