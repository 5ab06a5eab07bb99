package unit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	shopevents "github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/notification/adapters/mailbox"
	"github.com/shoplab/shoplab/services/notification/unit"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", within, what, state)
		}
		<-tick.C
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestUnitEmailsAnOrderAndServesOps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Kafka consumer group against kfake")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, shopevents.TopicOrders), kfake.SeedTopics(1, shopevents.TopicOrdersDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	clock := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	u, err := unit.New(t.Context(), unit.Config{
		OpsAddr:      "127.0.0.1:0",
		DataDir:      t.TempDir(),
		KafkaBrokers: c.ListenAddrs(),
		BatchWindow:  10 * time.Millisecond,
	}, unit.Deps{Metrics: metrics.New(unit.Name, false), Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = u.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()

	ops := "http://" + u.OpsAddr()
	eventually(t, 30*time.Second, "ready", func() (bool, string) {
		code, body := get(t, ops+"/readyz")
		return code == http.StatusOK, body
	})

	ev, err := json.Marshal(shopevents.OrderPlaced{
		SchemaVersion: 1, EventID: "evt-1", Type: shopevents.TypeOrderPlaced, OccurredAt: clock,
		OrderID: "ord-1", UserID: "usr-1", // no user_email: the local fallback address applies
		Items:      []shopevents.LineItem{{ProductID: "p", Quantity: 3, UnitPriceCents: 250}},
		TotalCents: 750, Currency: "USD",
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sarama.NewSyncProducer(c.ListenAddrs(), kafkax.ProducerConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // and once more, as a redelivery
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: shopevents.TopicOrders, Key: sarama.StringEncoder("ord-1"), Value: sarama.ByteEncoder(ev)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = p.Close()

	var msgs []mailbox.Message
	eventually(t, 30*time.Second, "the email", func() (bool, string) {
		msgs, err = u.Mailbox().List(t.Context(), 10)
		if err != nil {
			return false, err.Error()
		}
		_, metricsText := get(t, ops+"/metrics")
		return len(msgs) == 1 && strings.Contains(metricsText, "shoplab_notification_duplicates_skipped_total{unit=\"notification\"} 1"), metricsText
	})
	m := msgs[0]
	if m.To != "user-usr-1@"+unit.DefaultFallbackDomain || !m.SentAt.Equal(clock) || !strings.Contains(m.Body, "Total: 7.50 USD") {
		t.Fatalf("email = %+v", m)
	}
	eventually(t, 10*time.Second, "lag 0", func() (bool, string) { return u.Lag() == 0, "" })
	// The sent log on the unit's own ops port, as `shoplab up` serves it.
	code, body := get(t, ops+"/ops/v1/mailbox?limit=1000000")
	var mb struct {
		Items []mailbox.Message `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &mb); code != http.StatusOK || err != nil || len(mb.Items) != 1 || mb.Items[0].OrderID != m.OrderID || mb.Items[0].To != m.To {
		t.Errorf("GET /ops/v1/mailbox = %d %s (%v), want the one email", code, body, err)
	}
	if code, _ := get(t, ops+"/ops/v1/mailbox?limit=x"); code != http.StatusBadRequest {
		t.Errorf("GET /ops/v1/mailbox?limit=x = %d, want 400", code)
	}
	code, body = get(t, ops+"/metrics")
	for _, want := range []string{
		`shoplab_notification_emails_sent_total{unit="notification"} 1`,
		`shoplab_notification_records_consumed_total{unit="notification"} 2`,
		`shoplab_notification_consumer_lag{partition=`,
		`shoplab_requests_total{code="200",method="GET /readyz",transport="http",unit="notification"}`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestUnitNotReadyWithoutKafka(t *testing.T) {
	// Nothing listens on the broker address: the unit starts, says it is
	// not ready, and stops cleanly.
	u, err := unit.New(t.Context(), unit.Config{
		OpsAddr: "127.0.0.1:0", DataDir: t.TempDir(), KafkaBrokers: []string{"127.0.0.1:1"},
	}, unit.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	eventually(t, 10*time.Second, "ops up", func() (bool, string) {
		code, body := get(t, "http://"+u.OpsAddr()+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "kafka"), body
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		field string
		cfg   unit.Config
	}{
		{"DataDir", unit.Config{KafkaBrokers: []string{"b:1"}}},
		{"KafkaBrokers", unit.Config{DataDir: t.TempDir()}},
		{"BatchSize", unit.Config{DataDir: t.TempDir(), KafkaBrokers: []string{"b:1"}, BatchSize: -1}},
		{"Sender", unit.Config{DataDir: t.TempDir(), KafkaBrokers: []string{"b:1"}, Sender: "nope"}},
		{"Email", unit.Config{DataDir: t.TempDir(), KafkaBrokers: []string{"b:1"}, Email: "smtp"}},
	} {
		u, err := unit.New(t.Context(), tc.cfg, unit.Deps{})
		if err == nil {
			_ = u.Close()
		}
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tc.field {
			t.Errorf("New(%+v) = %v, want invalid_argument on %s", tc.cfg, err, tc.field)
		}
	}
}
