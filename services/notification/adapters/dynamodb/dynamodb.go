// Package dynamodb is the DedupStore of the host, compose and AWS envs: one
// DynamoDB item per OrderPlaced event, claimed with a conditional PutItem.
//
// Table layout (Terraform must agree): partition key event_id (S), no sort
// key, on-demand capacity, TTL on expires_at. Items carry order_id, status
// ("claimed" or "sent"), token (the claim owner), lease_until and
// claimed_at/sent_at (unix milliseconds), expires_at (unix seconds).
package dynamodb

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// DefaultRetention is how long a sent mark is kept before DynamoDB's TTL
// deletes it. It must outlive the orders topic's retention, or a replay of
// the topic would send the old emails again.
const DefaultRetention = 30 * 24 * time.Hour

// API is the part of the DynamoDB client the store uses.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Options configures a Store.
type Options struct {
	Retention time.Duration // TTL of an item after its last write; 0 means DefaultRetention
}

// Store is a DedupStore on a DynamoDB table.
type Store struct {
	api       API
	table     string
	retention time.Duration
}

var _ app.DedupStore = (*Store)(nil)

// New returns a Store on table through api (a *dynamodb.Client).
func New(api API, table string, o Options) (*Store, error) {
	if table == "" {
		return nil, errs.InvalidField("table", "is required")
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < 0 {
		return nil, errs.InvalidField("retention", "must be positive")
	}
	return &Store{api: api, table: table, retention: o.Retention}, nil
}

// Attribute names; all go through expression names because "status" and
// "token" are DynamoDB reserved words.
var names = map[string]string{
	"#id": "event_id", "#st": "status", "#tk": "token", "#lu": "lease_until",
	"#sa": "sent_at", "#ex": "expires_at",
}

func pick(keys ...string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = names[k]
	}
	return out
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// Claim implements app.DedupStore: PutItem on condition that the event is
// new, or still only claimed with a lease that ended.
func (s *Store) Claim(ctx context.Context, eventID, orderID, token string, now time.Time, lease time.Duration) (app.ClaimResult, error) {
	switch {
	case eventID == "":
		return 0, errs.InvalidField("event_id", "is required")
	case token == "":
		return 0, errs.InvalidField("token", "is required")
	case lease <= 0:
		return 0, errs.InvalidField("lease", "must be positive, got %s", lease)
	}
	item := map[string]types.AttributeValue{
		"event_id":    str(eventID),
		"order_id":    str(orderID),
		"status":      str("claimed"),
		"token":       str(token),
		"lease_until": num(now.Add(lease).UnixMilli()),
		"claimed_at":  num(now.UnixMilli()),
		"expires_at":  num(now.Add(s.retention).Unix()),
	}
	// The item can vanish (Release) or its lease end between the failed put
	// and the read that explains it; a few rounds settle either race.
	for range 3 {
		_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(s.table),
			Item:                      item,
			ConditionExpression:       aws.String("attribute_not_exists(#id) OR (#st = :claimed AND #lu <= :now)"),
			ExpressionAttributeNames:  pick("#id", "#st", "#lu"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":claimed": str("claimed"), ":now": num(now.UnixMilli())},
		})
		if err == nil {
			return app.Claimed, nil
		}
		if !isConditionFailed(err) {
			return 0, storeErr(err, "claim")
		}
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(s.table),
			Key:                      map[string]types.AttributeValue{"event_id": str(eventID)},
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#st, #lu"),
			ExpressionAttributeNames: pick("#st", "#lu"),
		})
		if err != nil {
			return 0, storeErr(err, "claim")
		}
		if len(out.Item) == 0 {
			continue
		}
		if st, ok := out.Item["status"].(*types.AttributeValueMemberS); ok && st.Value == "sent" {
			return app.AlreadySent, nil
		}
		if lu, ok := out.Item["lease_until"].(*types.AttributeValueMemberN); ok {
			if ms, perr := strconv.ParseInt(lu.Value, 10, 64); perr == nil && ms <= now.UnixMilli() {
				continue
			}
		}
		return app.HeldByOther, nil
	}
	return app.HeldByOther, nil
}

// MarkSent implements app.DedupStore with an unconditional UpdateItem that
// keeps the first sent time.
func (s *Store) MarkSent(ctx context.Context, eventID string, now time.Time) error {
	if eventID == "" {
		return errs.InvalidField("event_id", "is required")
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]types.AttributeValue{"event_id": str(eventID)},
		UpdateExpression:         aws.String("SET #st = :sent, #sa = if_not_exists(#sa, :now), #ex = :exp"),
		ExpressionAttributeNames: pick("#st", "#sa", "#ex"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sent": str("sent"), ":now": num(now.UnixMilli()), ":exp": num(now.Add(s.retention).Unix()),
		},
	})
	if err != nil {
		return storeErr(err, "mark sent")
	}
	return nil
}

// Release implements app.DedupStore: DeleteItem on condition that token
// still holds a claim.
func (s *Store) Release(ctx context.Context, eventID, token string) error {
	if eventID == "" || token == "" {
		return errs.InvalidField("event_id", "event id and token are required")
	}
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{"event_id": str(eventID)},
		ConditionExpression:       aws.String("#st = :claimed AND #tk = :token"),
		ExpressionAttributeNames:  pick("#st", "#tk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":claimed": str("claimed"), ":token": str(token)},
	})
	if err != nil && !isConditionFailed(err) {
		return storeErr(err, "release")
	}
	return nil
}

// TableAPI is the part of the DynamoDB client EnsureTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// TTLAttribute is the item attribute DynamoDB's TTL expires items by.
const TTLAttribute = "expires_at"

// TableInput is the table's layout (above), on-demand capacity: what
// EnsureTable sends, and what terraform/aws/modules/dynamodb must declare
// (terraform/tfcheck compares the two).
func TableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("event_id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("event_id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}
}

// EnsureTable creates table with the layout above if it does not exist,
// waits until it is active (at most wait) and turns TTL on. Terraform owns
// the table in AWS; this is for moto_server, LocalStack and tests.
func EnsureTable(ctx context.Context, api TableAPI, table string, wait time.Duration) error {
	_, err := api.CreateTable(ctx, TableInput(table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return storeErr(err, "create table")
	}
	if err := dynamodb.NewTableExistsWaiter(api).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, wait); err != nil {
		return storeErr(err, "wait for table")
	}
	_, err = api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil && !errors.As(err, new(smithy.APIError)) {
		return storeErr(err, "enable ttl")
	}
	// An API error here is "TTL already enabled" (or unsupported by an
	// emulator); the table works without TTL, it just never shrinks.
	return nil
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// storeErr sorts DynamoDB failures: a missing table is a setup problem
// (FailedPrecondition: retry and alert, never dead-letter), a rejected
// request is our bug (Internal), and the rest is worth a retry.
func storeErr(err error, op string) error {
	if c := errs.CodeOf(err); c == errs.DeadlineExceeded {
		return errs.Wrap(c, err, "dynamodb %s timed out", op)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			return errs.Wrap(errs.FailedPrecondition, err, "dynamodb %s: table not found", op)
		case "ValidationException":
			return errs.Wrap(errs.Internal, err, "dynamodb %s: request rejected", op)
		}
	}
	return errs.Wrap(errs.Unavailable, err, "dynamodb %s failed", op)
}
