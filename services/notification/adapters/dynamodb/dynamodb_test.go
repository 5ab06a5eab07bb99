package dynamodb_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	ddb "github.com/shoplab/shoplab/services/notification/adapters/dynamodb"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/notification/notificationtest"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestDedupContractOnMoto(t *testing.T) {
	moto := notificationtest.StartMoto(t)
	client := moto.DynamoDB()
	var n atomic.Int64
	notificationtest.RunDedupContract(t, func(t *testing.T) app.DedupStore {
		table := fmt.Sprintf("notification-sent-%d", n.Add(1))
		if err := ddb.EnsureTable(t.Context(), client, table, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		s, err := ddb.New(client, table, ddb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestEnsureTableTwiceAndMissingTable(t *testing.T) {
	moto := notificationtest.StartMoto(t)
	client := moto.DynamoDB()
	ctx := t.Context()
	for range 2 {
		if err := ddb.EnsureTable(ctx, client, "notification-sent", 30*time.Second); err != nil {
			t.Fatalf("EnsureTable: %v", err)
		}
	}
	// A store pointed at a table that does not exist is misconfigured: the
	// error must say so and must not look like a bad record.
	s, err := ddb.New(client, "no-such-table", ddb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Claim(ctx, "ev", "o", "tok", notificationtest.Base, notificationtest.Lease)
	if !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("claim on a missing table = %v, want failed_precondition", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := ddb.New(&dynamodb.Client{}, "", ddb.Options{}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("New without a table = %v, want invalid_argument", err)
	}
	if _, err := ddb.New(&dynamodb.Client{}, "t", ddb.Options{Retention: -time.Hour}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("New with a negative retention = %v, want invalid_argument", err)
	}
}
