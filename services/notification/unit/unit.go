// Package unit is the notification unit's composition root for the local,
// host and compose envs: the event-source runner (the MSK event source
// mapping's stand-in) on the orders topic, the Lambda handler, a dedup store
// (SQLite, or DynamoDB with Config.DedupTable), a mailer (the SQLite
// mailbox, or Amazon SES v2 with Config.Email "ses") and the ops HTTP
// server. The unit has no gRPC API; in AWS the same handler runs in Lambda
// (see lambdamain).
//
// The mailbox is also the unit's sent log: with SES, every email SES
// accepted is recorded in mailbox.db too, so GET /ops/v1/mailbox (served
// from Mailbox) shows what went out in every env. SES v2 has no API that
// lists sent mail and moto's record of it is moto's alone, so the log is
// the unit's own. A record that fails after SES accepted the email is
// logged and counted (shoplab_notification_sent_log_failures_total), not
// retried through the handler: a retry would send the customer a second
// email.
package unit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/notification"
	"github.com/shoplab/shoplab/services/notification/adapters/dynamodb"
	"github.com/shoplab/shoplab/services/notification/adapters/eventsource"
	"github.com/shoplab/shoplab/services/notification/adapters/mailbox"
	"github.com/shoplab/shoplab/services/notification/adapters/ses"
	"github.com/shoplab/shoplab/services/notification/adapters/sqlite"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/awsx"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/sqlitex"
)

// Name is the unit's name in metrics, logs and the CLI.
const Name = "notification"

// DefaultFallbackDomain is where the local env addresses confirmations of
// events without a usable user_email (see notification.Recipient), so that
// every order gets exactly one email the scenario invariants can count.
const DefaultFallbackDomain = "users.shoplab.local"

// Files in DataDir: the dedup store is the unit's own data (the DynamoDB
// role); the mailbox stands in for the email provider, a separate system.
const (
	DedupFile   = "notification.db"
	MailboxFile = "mailbox.db"
)

// Config holds the unit's settings, parsed and typed. Zero values take the
// defaults of eventsource and app.
type Config struct {
	OpsAddr      string        // /healthz, /readyz, /metrics; "127.0.0.1:0" picks a free port
	DataDir      string        // where notification.db and mailbox.db live; created if missing
	KafkaBrokers []string      // bootstrap addresses of the cluster holding the orders topic
	Group        string        // consumer group; "" means "notification"
	BatchSize    int           // records per handler invocation at most; 0 means 100
	BatchWindow  time.Duration // how long a batch waits to fill; 0 means 500ms
	MaxAttempts  int           // invocations of a poison record before it is dead-lettered; 0 means 3
	RetryBackoff time.Duration // first retry delay, doubled per failure; 0 means 200ms

	MaxRetryBackoff time.Duration // cap of the retry delay; 0 means 30s
	Sender          string        // From address; "" means app.DefaultSender
	FallbackDomain  string        // "" means DefaultFallbackDomain
	ClaimLease      time.Duration // dedup claim lease; 0 means app.DefaultClaimLease

	// Real parts (host, compose envs). DataDir is still needed: it holds
	// the mailbox, which is the sent log with SES (see the package doc).
	DedupTable      string // "" means SQLite notification.db in DataDir; else the DynamoDB dedup table
	Email           string // EmailMailbox ("" too) or EmailSES (SES v2, From = Sender)
	AWSEndpoint     string // "" means the real AWS; http://127.0.0.1:15000 for moto
	AWSRegion       string // "" means us-east-1
	CreateResources bool   // create the dedup table and verify the sender identity if missing
}

// The values of Config.Email.
const (
	EmailMailbox = "mailbox"
	EmailSES     = "ses"
)

// resourceWait bounds how long New waits for a table it created.
const resourceWait = 60 * time.Second

// Deps are the unit's tools, installed by the wiring.
type Deps struct {
	Log       *slog.Logger      // nil discards
	Metrics   *metrics.Registry // nil means a fresh registry for the unit
	Now       func() time.Time  // nil means time.Now
	SQLDriver string            // "" means sqlitex.DriverName; chaos wraps it
	// KafkaDialer, when set, carries every broker connection (wiring routes
	// it through the unit's Kafka proxy); nil dials directly.
	KafkaDialer kafkax.Dialer
	// AWSHTTPClient carries every DynamoDB and SES call; nil means the SDK
	// default. Chaos L7 wraps it (e.g. ProvisionedThroughputExceeded).
	AWSHTTPClient aws.HTTPClient
}

// dedupStore is the DedupStore the unit closes and pings.
type dedupStore interface {
	app.DedupStore
	Ping(ctx context.Context) error
	Close() error
}

// dynamoDedup gives the DynamoDB store the Ping and Close the unit uses.
type dynamoDedup struct {
	*dynamodb.Store
	client *awsdynamodb.Client
	table  string
}

func (d dynamoDedup) Ping(ctx context.Context) error {
	if _, err := d.client.DescribeTable(ctx, &awsdynamodb.DescribeTableInput{TableName: aws.String(d.table)}); err != nil {
		return errs.Wrap(errs.Unavailable, err, "dynamodb dedup table %s", d.table)
	}
	return nil
}

func (dynamoDedup) Close() error { return nil }

// sentLogMailer sends through SES and records what SES accepted in the
// mailbox, the unit's sent log.
type sentLogMailer struct {
	send     app.Mailer
	sentLog  *mailbox.Mailbox
	log      *slog.Logger
	failures prometheus.Counter
}

func (m *sentLogMailer) Send(ctx context.Context, e notification.Email) error {
	if err := m.send.Send(ctx, e); err != nil {
		return err
	}
	if err := m.sentLog.Send(ctx, e); err != nil {
		m.failures.Inc()
		m.log.WarnContext(ctx, "email sent but not recorded in the sent log", "event_id", e.EventID, "order_id", e.OrderID, "error", err)
	}
	return nil
}

// Unit is the running notification unit.
type Unit struct {
	log     *slog.Logger
	dedup   dedupStore
	mailbox *mailbox.Mailbox
	handler *app.Handler
	runner  *eventsource.Runner
	ops     *httpx.Server

	closeOnce sync.Once
	closeErr  error
}

// New opens the stores, builds the handler and the runner, and binds the
// ops listener. Kafka is dialled in Run, so the unit may start before it.
func New(ctx context.Context, cfg Config, deps Deps) (_ *Unit, err error) {
	if cfg.DataDir == "" {
		return nil, errs.InvalidField("DataDir", "is required")
	}
	if len(cfg.KafkaBrokers) == 0 {
		return nil, errs.InvalidField("KafkaBrokers", "at least one broker address is required")
	}
	switch cfg.Email {
	case "", EmailMailbox, EmailSES:
	default:
		return nil, errs.InvalidField("Email", "want %q or %q, got %q", EmailMailbox, EmailSES, cfg.Email)
	}
	if deps.Log == nil {
		deps.Log = logx.Discard()
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New(Name, false)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.SQLDriver == "" {
		deps.SQLDriver = sqlitex.DriverName
	}
	if cfg.FallbackDomain == "" {
		cfg.FallbackDomain = DefaultFallbackDomain
	}
	u := &Unit{log: deps.Log.With("unit", Name)}
	defer func() {
		if err != nil {
			_ = u.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "create data dir %s", cfg.DataDir)
	}
	if u.mailbox, err = mailbox.Open(ctx, filepath.Join(cfg.DataDir, MailboxFile), mailbox.Options{Now: deps.Now, Driver: deps.SQLDriver}); err != nil {
		return nil, err
	}
	var mailer app.Mailer = u.mailbox
	var awsCfg aws.Config
	if cfg.DedupTable != "" || cfg.Email == EmailSES {
		if awsCfg, err = awsx.Config(ctx, awsx.Options{Region: cfg.AWSRegion, Endpoint: cfg.AWSEndpoint, HTTP: deps.AWSHTTPClient}); err != nil {
			return nil, err
		}
	}
	if u.dedup, err = openDedup(ctx, cfg, deps, awsCfg); err != nil {
		return nil, err
	}
	if cfg.Email == EmailSES {
		if mailer, err = u.sesMailer(ctx, cfg, deps, awsCfg); err != nil {
			return nil, err
		}
	}
	u.handler, err = app.NewHandler(app.Config{
		Sender:         cfg.Sender,
		FallbackDomain: cfg.FallbackDomain,
		ClaimLease:     cfg.ClaimLease,
	}, app.Deps{
		Mailer:  mailer,
		Dedup:   u.dedup,
		Log:     u.log,
		Metrics: deps.Metrics,
		Now:     deps.Now,
	})
	if err != nil {
		return nil, err
	}
	u.runner, err = eventsource.New(eventsource.Config{
		Brokers:         cfg.KafkaBrokers,
		Group:           cfg.Group,
		BatchSize:       cfg.BatchSize,
		BatchWindow:     cfg.BatchWindow,
		MaxAttempts:     cfg.MaxAttempts,
		RetryBackoff:    cfg.RetryBackoff,
		MaxRetryBackoff: cfg.MaxRetryBackoff,
		Dialer:          deps.KafkaDialer,
	}, eventsource.Deps{
		Handler: u.handler.Handle,
		Log:     u.log,
		Metrics: deps.Metrics,
		Now:     deps.Now,
	})
	if err != nil {
		return nil, err
	}
	mux := httpx.OpsMux(deps.Metrics, u.Ready)
	mux.HandleFunc("GET /ops/v1/mailbox", u.serveMailbox)
	u.ops, err = httpx.Listen(cfg.OpsAddr, httpx.Observe(deps.Metrics, route, mux))
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "listen on ops address %q", cfg.OpsAddr)
	}
	return u, nil
}

// openDedup opens the dedup store cfg selects, given an AWS config.
func openDedup(ctx context.Context, cfg Config, deps Deps, awsCfg aws.Config) (dedupStore, error) {
	if cfg.DedupTable == "" {
		s, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, DedupFile), sqlitex.WithDriver(deps.SQLDriver))
		if err != nil {
			return nil, err // not a typed nil in the interface, which Close would call
		}
		return s, nil
	}
	client := awsdynamodb.NewFromConfig(awsCfg)
	if cfg.CreateResources {
		if err := dynamodb.EnsureTable(ctx, client, cfg.DedupTable, resourceWait); err != nil {
			return nil, err
		}
	}
	s, err := dynamodb.New(client, cfg.DedupTable, dynamodb.Options{})
	if err != nil {
		return nil, err
	}
	return dynamoDedup{Store: s, client: client, table: cfg.DedupTable}, nil
}

// sesMailer builds the SES mailer that records into the sent log, first
// verifying the sender identity when the env creates its resources.
func (u *Unit) sesMailer(ctx context.Context, cfg Config, deps Deps, awsCfg aws.Config) (app.Mailer, error) {
	client := sesv2.NewFromConfig(awsCfg)
	if cfg.CreateResources {
		sender := cfg.Sender
		if sender == "" {
			sender = app.DefaultSender
		}
		_, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)})
		var exists *sestypes.AlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return nil, errs.Wrap(errs.Unavailable, err, "ses: verify sender %s", sender)
		}
	}
	return &sentLogMailer{
		send:    ses.New(client, ses.Options{}),
		sentLog: u.mailbox,
		log:     u.log,
		failures: deps.Metrics.Counter("shoplab_notification_sent_log_failures_total",
			"Emails SES accepted that the sent log (the ops mailbox) failed to record."),
	}, nil
}

// serveMailbox is GET /ops/v1/mailbox?limit=N on the unit's own ops port:
// the sent log, newest first, as {"items": [...]} (the shape `shoplab up`'s
// ops API serves), so a unit running alone in a container can be
// reconciled too.
func (u *Unit) serveMailbox(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			httpx.WriteError(w, r, u.log, errs.InvalidField("limit", "must be a positive integer, got %q", v))
			return
		}
		limit = min(n, mailbox.MaxListLimit)
	}
	items, err := u.mailbox.List(r.Context(), limit)
	if err != nil {
		httpx.WriteError(w, r, u.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// route labels ops requests by the mux pattern without its method (Observe
// adds the method), and lumps unmatched paths together to bound cardinality.
func route(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[i+1:]
	}
	if p == "" {
		return "unmatched"
	}
	return p
}

// Run consumes orders and serves the ops endpoints until ctx ends, then
// stops gracefully. If either stops on its own, the other is stopped too.
func (u *Unit) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- u.runner.Run(ctx) }()
	go func() { errc <- u.ops.Run(ctx) }()
	var first error
	for range 2 {
		err := <-errc
		if first == nil && err != nil {
			first = err
		}
		cancel()
	}
	if first != nil {
		u.log.ErrorContext(ctx, "notification unit stopped", "error", first)
	}
	return first
}

// Close releases the listener and the stores; it is safe after Run and
// more than once.
func (u *Unit) Close() error {
	u.closeOnce.Do(func() {
		var errList []error
		if u.ops != nil {
			if err := u.ops.Close(); err != nil {
				errList = append(errList, err)
			}
		}
		if u.mailbox != nil {
			errList = append(errList, u.mailbox.Close())
		}
		if u.dedup != nil {
			errList = append(errList, u.dedup.Close())
		}
		u.closeErr = errors.Join(errList...)
	})
	return u.closeErr
}

// OpsAddr is the address the ops server listens on.
func (u *Unit) OpsAddr() string { return u.ops.Addr() }

// Ready reports whether the stores answer and the runner is connected.
func (u *Unit) Ready(ctx context.Context) error {
	if err := u.dedup.Ping(ctx); err != nil {
		return err
	}
	if err := u.mailbox.Ping(ctx); err != nil {
		return err
	}
	return u.runner.Ready(ctx)
}

// Mailbox is the local mailbox, or with SES the sent log of what SES
// accepted, for the ops API (GET /ops/v1/mailbox lists it with List) and
// the scenario invariants.
func (u *Unit) Mailbox() *mailbox.Mailbox { return u.mailbox }

// Lag is the consumer lag over the partitions this unit owns now.
func (u *Unit) Lag() int64 { return u.runner.Lag() }

// Handler is the Lambda handler the runner invokes, for tests and tools
// that replay Kafka events by hand.
func (u *Unit) Handler() *app.Handler { return u.handler }
