package lambdamain_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	shopevents "github.com/shoplab/shoplab/services/api/events"
	ddb "github.com/shoplab/shoplab/services/notification/adapters/dynamodb"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/notification/lambdamain"
	"github.com/shoplab/shoplab/services/notification/notificationtest"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// mskEvent renders a batch the way the MSK event source mapping posts it
// to the function, so that the test goes through the JSON shape too.
func mskEvent(t *testing.T, values ...string) events.KafkaEvent {
	t.Helper()
	var recs []string
	for i, v := range values {
		recs = append(recs, fmt.Sprintf(`{"topic":"orders","partition":0,"offset":%d,"timestamp":1775030400000,"timestampType":"CREATE_TIME","key":"b3JkLTE=","value":%q,"headers":[{"traceparent":[48,48,45,97]}]}`,
			10+i, base64.StdEncoding.EncodeToString([]byte(v))))
	}
	payload := `{"eventSource":"aws:kafka","eventSourceArn":"arn:aws:kafka:us-east-1:000000000000:cluster/shoplab/abc","bootstrapServers":"b-1.shoplab:9098","records":{"orders-0":[` +
		strings.Join(recs, ",") + `]}}`
	var ev events.KafkaEvent
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func placed(t *testing.T, n int, email string) string {
	t.Helper()
	b, err := json.Marshal(shopevents.OrderPlaced{
		SchemaVersion: 1, EventID: fmt.Sprintf("evt-%d", n), Type: shopevents.TypeOrderPlaced,
		OccurredAt: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC), OrderID: fmt.Sprintf("ord-%d", n),
		UserID: fmt.Sprintf("usr-%d", n), UserEmail: email,
		Items:      []shopevents.LineItem{{ProductID: "p", Quantity: 1, UnitPriceCents: 999}},
		TotalCents: 999, Currency: "USD",
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerOnMotoSendsOncePerEvent(t *testing.T) {
	moto := notificationtest.StartMoto(t)
	ctx := t.Context()
	const table, sender = "shoplab-notification-sent", "orders@shoplab.test"
	if err := ddb.EnsureTable(ctx, moto.DynamoDB(), table, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := moto.VerifySender(ctx, sender); err != nil {
		t.Fatal(err)
	}
	h, err := lambdamain.NewHandler(lambdamain.Config{
		Region: notificationtest.MotoRegion, Endpoint: moto.Endpoint, DedupTable: table, Sender: sender,
	}, moto.AWSConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}

	ev := mskEvent(t,
		placed(t, 1, "ann@example.com"),
		placed(t, 2, "bob@example.com"),
		placed(t, 1, "ann@example.com"), // re-published outbox row
		placed(t, 3, ""),                // no address and no fallback in AWS: skipped
		"definitely not json",
	)
	err = h.Handle(ctx, ev)
	var be *app.BatchError
	if !errors.As(err, &be) || len(be.Failures) != 1 || be.Failures[0].Ref() != "orders-0@14" || !errs.Is(be.Failures[0].Err, errs.Invalid) {
		t.Fatalf("Handle = %v, want only orders-0@14 failed as invalid", err)
	}
	// MSK retries the whole batch after an error: nothing is sent twice.
	if err := h.Handle(ctx, ev); err == nil {
		t.Fatal("the poison record must fail again")
	}
	sent, err := moto.SentEmails(ctx, sender)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, m := range sent {
		to = append(to, m.To)
		if !strings.HasPrefix(m.Subject, "Your shoplab order ord-") || !strings.Contains(m.Body, "Total: 9.99 USD") {
			t.Errorf("email = %+v", m)
		}
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"ann@example.com", "bob@example.com"}) {
		t.Fatalf("SES got emails to %v, want one each to ann and bob", to)
	}
}

func TestNewHandlerValidates(t *testing.T) {
	moto := notificationtest.Moto{Endpoint: "http://127.0.0.1:1"}
	if _, err := lambdamain.NewHandler(lambdamain.Config{}, moto.AWSConfig(), nil); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "DedupTable" {
		t.Fatalf("NewHandler without a table = %v, want invalid_argument on DedupTable", err)
	}
	cfg := moto.AWSConfig()
	cfg.Region = ""
	if _, err := lambdamain.NewHandler(lambdamain.Config{DedupTable: "t"}, cfg, nil); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "Region" {
		t.Fatalf("NewHandler without a region = %v, want invalid_argument on Region", err)
	}
}
