package unit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	shopevents "github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/notification/adapters/mailbox"
	"github.com/shoplab/shoplab/services/notification/unit"
	"github.com/shoplab/shoplab/services/platform/kafkax"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

// sesCalls counts the SES SendEmail calls that succeeded, seen on the HTTP
// client the unit's AWS clients use. (moto's /moto-api/data.json would show
// the emails too, but dumping a shared one-thread moto blocks it for
// minutes.)
type sesCalls struct {
	mu   sync.Mutex
	sent int
	next *http.Client
}

func (c *sesCalls) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err == nil && r.Method == http.MethodPost && r.URL.Path == "/v2/email/outbound-emails" && resp.StatusCode == http.StatusOK {
		c.mu.Lock()
		c.sent++
		c.mu.Unlock()
	}
	return resp, err
}

func (c *sesCalls) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// TestUnitOnDynamoDBAndSES runs the unit with the DynamoDB dedup table and
// SES on moto, creating both, sends one OrderPlaced twice, and checks one
// email went out through SES and one shows in the mailbox view.
func TestUnitOnDynamoDBAndSES(t *testing.T) {
	endpoint := partstest.AWSEndpoint(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, shopevents.TopicOrders), kfake.SeedTopics(1, shopevents.TopicOrdersDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	sender := partstest.UniqueName("orders-") + "@shoplab.test"
	reg := metrics.New(unit.Name, false)
	calls := &sesCalls{next: &http.Client{Timeout: 30 * time.Second}}
	u, err := unit.New(t.Context(), unit.Config{
		OpsAddr:         "127.0.0.1:0",
		DataDir:         t.TempDir(),
		KafkaBrokers:    c.ListenAddrs(),
		BatchWindow:     10 * time.Millisecond,
		Sender:          sender,
		DedupTable:      partstest.UniqueName("notification-sent-"),
		Email:           unit.EmailSES,
		AWSEndpoint:     endpoint,
		CreateResources: true,
	}, unit.Deps{Metrics: reg, AWSHTTPClient: calls})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = u.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	ops := "http://" + u.OpsAddr()
	eventually(t, 30*time.Second, "ready", func() (bool, string) {
		code, body := get(t, ops+"/readyz")
		return code == http.StatusOK, body
	})

	ev, err := json.Marshal(shopevents.OrderPlaced{
		SchemaVersion: 1, EventID: partstest.UniqueName("evt-"), Type: shopevents.TypeOrderPlaced, OccurredAt: time.Now().UTC(),
		OrderID: "ord-ses-1", UserID: "usr-1", UserEmail: "buyer@example.com",
		Items:      []shopevents.LineItem{{ProductID: "p", Quantity: 2, UnitPriceCents: 500}},
		TotalCents: 1000, Currency: "USD",
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sarama.NewSyncProducer(c.ListenAddrs(), kafkax.ProducerConfig("test"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second is a redelivery of the same event
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: shopevents.TopicOrders, Key: sarama.StringEncoder("ord-ses-1"), Value: sarama.ByteEncoder(ev)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = p.Close()

	var msgs []mailbox.Message
	eventually(t, 60*time.Second, "both records handled", func() (bool, string) {
		msgs, err = u.Mailbox().List(t.Context(), 10)
		if err != nil {
			return false, err.Error()
		}
		_, text := get(t, ops+"/metrics")
		return strings.Contains(text, `shoplab_notification_duplicates_skipped_total{unit="notification"} 1`), text
	})
	if len(msgs) != 1 || msgs[0].From != sender || msgs[0].To != "buyer@example.com" || msgs[0].OrderID != "ord-ses-1" {
		t.Fatalf("mailbox view = %+v; want the one email of ord-ses-1 from %s", msgs, sender)
	}
	if n := calls.count(); n != 1 {
		t.Fatalf("SES accepted %d SendEmail calls, want 1", n)
	}
}
