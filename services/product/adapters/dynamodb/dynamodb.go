// Package dynamodb is the product Store on Amazon DynamoDB, for the host,
// compose and AWS envs (moto_server stands in off AWS). It behaves exactly
// as the SQLite adapter does; the producttest contract suite checks both.
//
// # Table design
//
// One table (single-table design), keys PK (S) and SK (S), on-demand
// capacity (PAY_PER_REQUEST). Three kinds of item:
//
//   - product: PK "PRODUCT#<id>", SK "PRODUCT". Attributes id, name,
//     description, category, price_cents, currency, initial, stock (units
//     available), reserved (units held by active reservations), search
//     (product.SearchText) and catalog (the constant "all"). stock and
//     reserved live on the product item and move together in one update, so
//     every product item is its own consistent ledger line.
//   - reservation: PK "ORDER#<order id>", SK "RESERVATION". Attributes state
//     ("active" or "released"), lines (a list of maps carrying the sale data
//     at reservation time), created_at and released_at (RFC 3339). A release
//     that finds no reservation writes a "released" item with no lines: the
//     tombstone that refuses a late Reserve.
//   - catalog marker: PK "CATALOG", SK "SEED". Attribute state ("seeding" or
//     "seeded") and products (the count). It makes seeding happen once.
//
// Two global secondary indexes, both projecting ALL attributes:
//
//   - "catalog": partition key catalog (always "all"), sort key id. It lists
//     the whole catalog in id order, so paging is a Query with id > AfterID.
//     One partition holds every product: fine for a 300-product catalog
//     (each page reads at most a few KB), a hot key for a million.
//   - "by_category": partition key category, sort key id; the same paging
//     within one category.
//
// GSI reads are eventually consistent in DynamoDB, so a listing may show a
// stock figure a moment old; GetProduct and every stock decision read the
// base table with ConsistentRead or conditions, so nothing oversells.
//
// Search (q=) is the same Query with a FilterExpression of one
// contains(search, :wN) per word, ANDed; contains is a byte-substring test
// over the lower-cased text, as strings.Contains in product.Matches. The
// filter runs after the read, so a search pays for every item it walks past
// (worst case the whole catalog: 300 items of ~0.5 KB, about 40 read units
// of 4 KB, eventually consistent halves that), and pages until it has Limit
// matches. That is acceptable for this catalog; a larger one would put
// search in OpenSearch.
//
// # Reservations
//
// Reserve reads the order's reservation and the lines' products in one
// consistent BatchGetItem, then writes with one TransactWriteItems: a Put of
// the reservation on condition attribute_not_exists(PK), and per line an
// Update "stock = stock - :q, reserved = reserved + :q" on condition
// attribute_exists(PK) AND stock >= :q. The transaction is all-or-none; a
// lost race on the reservation item (a concurrent retry or release) is
// re-read and answered as the winner left it. A transaction holds at most
// 100 actions and may not touch one item twice, so a reservation has at
// most MaxLines (99) lines, each of a different product, and more are
// refused with errs.Invalid on field "lines" (the product unit's own bound,
// product.MaxLines, is lower still). Release is the mirror image, on
// condition that the reservation is still active.
//
// # Seeding
//
// SeedCatalog validates the whole catalog first, then claims the marker with
// a conditional Put (attribute_not_exists): only the caller that creates it
// seeds, with BatchWriteItem in chunks of 25. BatchWriteItem takes no
// conditions, and it is safe here because no product exists before the
// marker is claimed. A seeder that died half-way leaves the marker in
// "seeding"; the next SeedCatalog finishes the job with conditional
// PutItems (attribute_not_exists), which never reset a product that is
// already there, then marks the catalog "seeded". Restarts therefore keep
// the stock that was sold.
//
// Inventory is a consistent Scan of the table: it reads every product item
// (each one atomic) and counts the active reservations. It costs one read
// of the whole table, tombstones included, and is meant for the stock gauge
// and the invariant checks, not the request path.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/product/app"
)

// MaxLines is the most lines one reservation can hold here: a transaction
// holds at most 100 actions, one of which is the reservation item.
const MaxLines = 99

// Index names.
const (
	IndexCatalog    = "catalog"
	IndexByCategory = "by_category"
)

const (
	skProduct     = "PRODUCT"
	skReservation = "RESERVATION"
	pkCatalog     = "CATALOG"
	skSeed        = "SEED"
	catalogAll    = "all"

	stateActive   = "active"
	stateReleased = "released"
	stateSeeding  = "seeding"
	stateSeeded   = "seeded"

	batchWriteMax = 25
	// conflictRetries bounds retries of a transaction DynamoDB cancelled for
	// a conflict with another transaction on the same item.
	conflictRetries = 8
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Store is the DynamoDB product store.
type Store struct {
	api   API
	table string
}

var _ app.Store = (*Store)(nil)

// New returns a Store on table through api (a *dynamodb.Client). It does not
// call DynamoDB; Ping does.
func New(api API, table string) (*Store, error) {
	if table == "" {
		return nil, errs.InvalidField("table", "is required")
	}
	if api == nil {
		return nil, errs.InvalidField("api", "a DynamoDB client is required")
	}
	return &Store{api: api, table: table}, nil
}

// Ping reports whether the table exists and is active.
func (s *Store) Ping(ctx context.Context) error {
	out, err := s.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return storeErr(err, "describe table")
	}
	if out.Table == nil || out.Table.TableStatus != types.TableStatusActive {
		return errs.E(errs.Unavailable, "dynamodb table %s is not active", s.table)
	}
	return nil
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func productKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": str("PRODUCT#" + id), "SK": str(skProduct)}
}

func reservationKey(orderID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": str("ORDER#" + orderID), "SK": str(skReservation)}
}

func seedKey() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": str(pkCatalog), "SK": str(skSeed)}
}

func productItem(p product.Product) map[string]types.AttributeValue {
	item := productKey(p.ID)
	item["id"] = str(p.ID)
	item["name"] = str(p.Name)
	item["description"] = str(p.Description)
	item["category"] = str(p.Category)
	item["price_cents"] = num(p.PriceCents)
	item["currency"] = str(p.Currency)
	item["initial"] = num(p.Stock)
	item["stock"] = num(p.Stock)
	item["reserved"] = num(0)
	item["search"] = str(product.SearchText(p))
	item["catalog"] = str(catalogAll)
	return item
}

// SeedCatalog inserts products once, as the package doc describes.
func (s *Store) SeedCatalog(ctx context.Context, products []product.Product) (bool, error) {
	seen := make(map[string]bool, len(products))
	for _, p := range products {
		if err := p.Validate(); err != nil {
			return false, errs.Wrap(errs.Invalid, err, "seed catalog: invalid product")
		}
		if seen[p.ID] {
			return false, errs.E(errs.Invalid, "seed catalog: duplicate product id %s", p.ID)
		}
		seen[p.ID] = true
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: seedKey(), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, storeErr(err, "seed catalog: read marker")
	}
	switch getS(out.Item, "state") {
	case stateSeeded:
		return false, nil
	case stateSeeding:
		// A seeder died half-way: finish without overwriting what exists.
		if err := s.putMissing(ctx, products); err != nil {
			return false, err
		}
		return true, s.markSeeded(ctx)
	}
	marker := seedKey()
	marker["state"] = str(stateSeeding)
	marker["products"] = num(int64(len(products)))
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                marker,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailed(err) {
		return false, nil // another replica seeds
	}
	if err != nil {
		return false, storeErr(err, "seed catalog: claim marker")
	}
	for chunk := range slices.Chunk(products, batchWriteMax) {
		reqs := make([]types.WriteRequest, len(chunk))
		for i, p := range chunk {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: productItem(p)}}
		}
		if err := s.batchWrite(ctx, reqs); err != nil {
			return false, err
		}
	}
	return true, s.markSeeded(ctx)
}

// batchWrite writes reqs, resending what DynamoDB left unprocessed (it does
// so under throttling) with a growing pause.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	pause := 20 * time.Millisecond
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, pause); err != nil {
				return storeErr(err, "seed catalog: batch write")
			}
			pause = min(2*pause, time.Second)
		}
		out, err := s.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.table: reqs}})
		if err != nil {
			return storeErr(err, "seed catalog: batch write")
		}
		reqs = out.UnprocessedItems[s.table]
	}
	return nil
}

func (s *Store) putMissing(ctx context.Context, products []product.Product) error {
	for _, p := range products {
		_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(s.table),
			Item:                productItem(p),
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		})
		if err != nil && !isConditionFailed(err) {
			return storeErr(err, "seed catalog: put "+p.ID)
		}
	}
	return nil
}

func (s *Store) markSeeded(ctx context.Context) error {
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       seedKey(),
		UpdateExpression:          aws.String("SET #st = :seeded"),
		ExpressionAttributeNames:  map[string]string{"#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":seeded": str(stateSeeded)},
	})
	if err != nil {
		return storeErr(err, "seed catalog: mark seeded")
	}
	return nil
}

// GetProduct returns one product with a consistent read, or errs.NotFound.
func (s *Store) GetProduct(ctx context.Context, id string) (product.Product, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: productKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return product.Product{}, storeErr(err, "get product "+id)
	}
	if len(out.Item) == 0 {
		return product.Product{}, errs.E(errs.NotFound, "product %s not found", id)
	}
	return decodeProduct(out.Item)
}

// ListProducts returns the products q selects, in id order, from a Query on
// the catalog or by_category index.
func (s *Store) ListProducts(ctx context.Context, q product.Query) ([]product.Product, error) {
	if q.Limit < 1 {
		return nil, errs.InvalidField("limit", "limit must be at least 1")
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		ExpressionAttributeNames:  map[string]string{},
		ExpressionAttributeValues: map[string]types.AttributeValue{},
	}
	var cond string
	if q.Category != "" {
		in.IndexName = aws.String(IndexByCategory)
		cond = "category = :pk"
		in.ExpressionAttributeValues[":pk"] = str(q.Category)
	} else {
		in.IndexName = aws.String(IndexCatalog)
		cond = "catalog = :pk"
		in.ExpressionAttributeValues[":pk"] = str(catalogAll)
	}
	if q.AfterID != "" {
		cond += " AND #id > :after"
		in.ExpressionAttributeNames["#id"] = "id"
		in.ExpressionAttributeValues[":after"] = str(q.AfterID)
	}
	in.KeyConditionExpression = aws.String(cond)
	if len(q.Words) == 0 && q.AfterID == "" {
		in.ExpressionAttributeNames = nil // DynamoDB refuses an empty map
	}
	if len(q.Words) > 0 {
		parts := make([]string, len(q.Words))
		for i, w := range q.Words {
			v := fmt.Sprintf(":w%d", i)
			parts[i] = "contains(#search, " + v + ")"
			in.ExpressionAttributeValues[v] = str(w)
		}
		in.FilterExpression = aws.String(strings.Join(parts, " AND "))
		in.ExpressionAttributeNames["#search"] = "search" // a reserved word
		// Limit counts items read before the filter; read a fair page.
		in.Limit = aws.Int32(100)
	} else {
		in.Limit = aws.Int32(int32(min(q.Limit, 1000)))
	}
	out := make([]product.Product, 0, q.Limit)
	for {
		page, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, storeErr(err, "list products")
		}
		for _, item := range page.Items {
			p, err := decodeProduct(item)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			if len(out) == q.Limit {
				return out, nil
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Reserve takes the lines' units for orderID with one TransactWriteItems:
// all lines or none, the first reservation of an order wins, and a released
// order is refused.
func (s *Store) Reserve(ctx context.Context, orderID string, lines []product.StockLine, at time.Time) (product.ReserveResult, error) {
	if err := validateLines(lines); err != nil {
		return product.ReserveResult{}, err
	}
	for attempt := 0; ; attempt++ {
		res, retry, err := s.reserveOnce(ctx, orderID, lines, at)
		if !retry || attempt >= conflictRetries {
			return res, err
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return product.ReserveResult{}, storeErr(err, "reserve "+orderID)
		}
	}
}

// validateLines refuses what one transaction cannot hold.
func validateLines(lines []product.StockLine) error {
	if len(lines) == 0 {
		return errs.InvalidField("lines", "at least one line is required")
	}
	if len(lines) > MaxLines {
		return errs.InvalidField("lines", "at most %d lines per reservation in one DynamoDB transaction, got %d", MaxLines, len(lines))
	}
	seen := make(map[string]int, len(lines))
	for i, l := range lines {
		if j, dup := seen[l.ProductID]; dup {
			return errs.InvalidField(fmt.Sprintf("lines[%d].product_id", i), "product %s already appears in lines[%d]; a transaction cannot touch one item twice", l.ProductID, j)
		}
		seen[l.ProductID] = i
		if l.Quantity < 1 {
			return errs.InvalidField(fmt.Sprintf("lines[%d].quantity", i), "quantity must be at least 1, got %d", l.Quantity)
		}
	}
	return nil
}

// reserveOnce makes one attempt; retry reports a transaction conflict worth
// another.
func (s *Store) reserveOnce(ctx context.Context, orderID string, lines []product.StockLine, at time.Time) (product.ReserveResult, bool, error) {
	var res product.ReserveResult
	keys := []map[string]types.AttributeValue{reservationKey(orderID)}
	for _, l := range lines {
		keys = append(keys, productKey(l.ProductID))
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return res, false, storeErr(err, "reserve "+orderID)
	}
	if r, ok := items["ORDER#"+orderID]; ok {
		res, err := answerExisting(orderID, r)
		return res, false, err
	}
	out := make([]product.ReservedLine, len(lines))
	for i, l := range lines {
		item, ok := items["PRODUCT#"+l.ProductID]
		if !ok {
			return res, false, errs.E(errs.NotFound, "product %s not found", l.ProductID)
		}
		p, err := decodeProduct(item)
		if err != nil {
			return res, false, err
		}
		if p.Stock < int64(l.Quantity) {
			return res, false, outOfStock(l, p.Stock)
		}
		out[i] = product.ReservedLine{ProductID: p.ID, Name: p.Name, Category: p.Category, Quantity: l.Quantity, UnitPriceCents: p.PriceCents, Currency: p.Currency}
	}

	resItem := reservationKey(orderID)
	resItem["state"] = str(stateActive)
	resItem["lines"] = encodeLines(out)
	resItem["created_at"] = str(formatTime(at))
	tx := []types.TransactWriteItem{{Put: &types.Put{
		TableName:           aws.String(s.table),
		Item:                resItem,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}}}
	for _, l := range lines {
		tx = append(tx, types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       productKey(l.ProductID),
			UpdateExpression:          aws.String("SET stock = stock - :q, reserved = reserved + :q"),
			ConditionExpression:       aws.String("attribute_exists(PK) AND stock >= :q"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":q": num(int64(l.Quantity))},
		}})
	}
	// No ClientRequestToken: a token would make a retry of a cancelled
	// (out of stock) request repeat the old answer for 10 minutes. An SDK
	// retry after a lost response instead meets the reservation item and
	// is answered AlreadyReserved, which callers treat as success.
	_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if err == nil {
		return product.ReserveResult{Lines: out}, false, nil
	}
	reasons, ok := cancellationReasons(err)
	if !ok {
		return res, false, storeErr(err, "reserve "+orderID)
	}
	if isConflict(reasons) {
		return res, true, errs.Wrap(errs.Unavailable, err, "reserve %s: transaction conflicts kept cancelling it", orderID)
	}
	if failed(reasons, 0) {
		// A retry or a release of the same order won the race: answer as
		// it left the reservation.
		r, err := s.getItem(ctx, reservationKey(orderID))
		if err != nil {
			return res, false, storeErr(err, "reserve "+orderID)
		}
		if len(r) == 0 {
			return res, true, errs.E(errs.Unavailable, "reserve %s: reservation item changed under the transaction", orderID)
		}
		res, err := answerExisting(orderID, r)
		return res, false, err
	}
	for i, l := range lines {
		if !failed(reasons, i+1) {
			continue
		}
		item, err := s.getItem(ctx, productKey(l.ProductID))
		if err != nil {
			return res, false, storeErr(err, "reserve "+orderID)
		}
		if len(item) == 0 {
			return res, false, errs.E(errs.NotFound, "product %s not found", l.ProductID)
		}
		return res, false, outOfStock(l, getN(item, "stock"))
	}
	return res, false, storeErr(err, "reserve "+orderID)
}

func outOfStock(l product.StockLine, available int64) error {
	return errs.E(errs.OutOfStock, "product %s has %d units available, %d requested", l.ProductID, available, l.Quantity)
}

// answerExisting answers a Reserve for an order that already has an item.
func answerExisting(orderID string, item map[string]types.AttributeValue) (product.ReserveResult, error) {
	if getS(item, "state") == stateActive {
		held, err := decodeLines(item)
		if err != nil {
			return product.ReserveResult{}, err
		}
		return product.ReserveResult{Lines: held, AlreadyReserved: true}, nil
	}
	return product.ReserveResult{}, errs.E(errs.FailedPrecondition, "reservation released: order %s was released before, so it cannot reserve again", orderID)
}

// Release gives an active reservation's units back exactly once, or leaves
// a tombstone when the order never reserved.
func (s *Store) Release(ctx context.Context, orderID string, at time.Time) (product.ReleaseResult, error) {
	var res product.ReleaseResult
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt > conflictRetries {
				return res, errs.E(errs.Unavailable, "release %s: the reservation kept changing under the release", orderID)
			}
			if err := sleep(ctx, backoff(attempt-1)); err != nil {
				return res, storeErr(err, "release "+orderID)
			}
		}
		item, err := s.getItem(ctx, reservationKey(orderID))
		if err != nil {
			return res, storeErr(err, "release "+orderID)
		}
		if len(item) == 0 {
			tomb := reservationKey(orderID)
			tomb["state"] = str(stateReleased)
			tomb["created_at"] = str(formatTime(at))
			tomb["released_at"] = str(formatTime(at))
			_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:           aws.String(s.table),
				Item:                tomb,
				ConditionExpression: aws.String("attribute_not_exists(PK)"),
			})
			if isConditionFailed(err) {
				continue // a reservation just arrived: release it
			}
			if err != nil {
				return res, storeErr(err, "release "+orderID+": tombstone")
			}
			return res, nil
		}
		if getS(item, "state") == stateReleased {
			return res, nil
		}
		held, err := decodeLines(item)
		if err != nil {
			return res, err
		}
		tx := []types.TransactWriteItem{{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       reservationKey(orderID),
			UpdateExpression:          aws.String("SET #st = :released, released_at = :at"),
			ConditionExpression:       aws.String("#st = :active"),
			ExpressionAttributeNames:  map[string]string{"#st": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":released": str(stateReleased), ":active": str(stateActive), ":at": str(formatTime(at))},
		}}}
		for _, l := range held {
			tx = append(tx, types.TransactWriteItem{Update: &types.Update{
				TableName:                 aws.String(s.table),
				Key:                       productKey(l.ProductID),
				UpdateExpression:          aws.String("SET stock = stock + :q, reserved = reserved - :q"),
				ConditionExpression:       aws.String("attribute_exists(PK)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":q": num(int64(l.Quantity))},
			}})
		}
		_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			return product.ReleaseResult{Released: true, Lines: held}, nil
		}
		reasons, ok := cancellationReasons(err)
		if !ok {
			return res, storeErr(err, "release "+orderID)
		}
		if isConflict(reasons) || failed(reasons, 0) {
			continue // re-read: another release may have won
		}
		return res, storeErr(err, "release "+orderID)
	}
}

// Inventory reads the ledger with one consistent Scan, as the package doc
// describes.
func (s *Store) Inventory(ctx context.Context) (product.Inventory, error) {
	var inv product.Inventory
	in := &dynamodb.ScanInput{
		TableName:                aws.String(s.table),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("PK, SK, id, initial, stock, reserved, #st"),
		ExpressionAttributeNames: map[string]string{"#st": "state"},
	}
	for {
		page, err := s.api.Scan(ctx, in)
		if err != nil {
			return product.Inventory{}, storeErr(err, "inventory")
		}
		for _, item := range page.Items {
			switch getS(item, "SK") {
			case skProduct:
				inv.Lines = append(inv.Lines, product.InventoryLine{
					ProductID: getS(item, "id"), Initial: getN(item, "initial"),
					Available: getN(item, "stock"), Reserved: getN(item, "reserved"),
				})
			case skReservation:
				if getS(item, "state") == stateActive {
					inv.ActiveReservations++
				}
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	slices.SortFunc(inv.Lines, func(a, b product.InventoryLine) int { return strings.Compare(a.ProductID, b.ProductID) })
	return inv, nil
}

func (s *Store) getItem(ctx context.Context, key map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// batchGet reads keys consistently (at most 100) and returns the items
// found by PK, resending what DynamoDB left unprocessed.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	found := make(map[string]map[string]types.AttributeValue, len(keys))
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	pause := 10 * time.Millisecond
	for attempt := 0; len(req) > 0 && len(req[s.table].Keys) > 0; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, pause); err != nil {
				return nil, err
			}
			pause = min(2*pause, time.Second)
		}
		out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, err
		}
		for _, item := range out.Responses[s.table] {
			found[getS(item, "PK")] = item
		}
		req = out.UnprocessedKeys
	}
	return found, nil
}

func decodeProduct(item map[string]types.AttributeValue) (product.Product, error) {
	p := product.Product{
		ID: getS(item, "id"), Name: getS(item, "name"), Description: getS(item, "description"),
		Category: getS(item, "category"), PriceCents: getN(item, "price_cents"), Currency: getS(item, "currency"),
		Stock: getN(item, "stock"),
	}
	if p.ID == "" {
		return p, errs.E(errs.Internal, "dynamodb item %s is not a product", getS(item, "PK"))
	}
	return p, nil
}

func encodeLines(lines []product.ReservedLine) types.AttributeValue {
	list := make([]types.AttributeValue, len(lines))
	for i, l := range lines {
		list[i] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"product_id": str(l.ProductID), "name": str(l.Name), "category": str(l.Category),
			"quantity": num(int64(l.Quantity)), "unit_price_cents": num(l.UnitPriceCents), "currency": str(l.Currency),
		}}
	}
	return &types.AttributeValueMemberL{Value: list}
}

func decodeLines(item map[string]types.AttributeValue) ([]product.ReservedLine, error) {
	list, ok := item["lines"].(*types.AttributeValueMemberL)
	if !ok {
		return nil, errs.E(errs.Internal, "reservation %s has no lines", getS(item, "PK"))
	}
	out := make([]product.ReservedLine, len(list.Value))
	for i, v := range list.Value {
		m, ok := v.(*types.AttributeValueMemberM)
		if !ok {
			return nil, errs.E(errs.Internal, "reservation %s: line %d is not a map", getS(item, "PK"), i)
		}
		out[i] = product.ReservedLine{
			ProductID: getS(m.Value, "product_id"), Name: getS(m.Value, "name"), Category: getS(m.Value, "category"),
			Quantity: int(getN(m.Value, "quantity")), UnitPriceCents: getN(m.Value, "unit_price_cents"), Currency: getS(m.Value, "currency"),
		}
	}
	return out, nil
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func backoff(attempt int) time.Duration {
	return min(time.Duration(10<<attempt)*time.Millisecond, 500*time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func cancellationReasons(err error) ([]types.CancellationReason, bool) {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return tce.CancellationReasons, true
	}
	return nil, false
}

func failed(reasons []types.CancellationReason, i int) bool {
	return i < len(reasons) && aws.ToString(reasons[i].Code) == "ConditionalCheckFailed"
}

func isConflict(reasons []types.CancellationReason) bool {
	for _, r := range reasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return true
		}
	}
	return false
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// storeErr sorts DynamoDB failures: a missing table is a setup problem
// (FailedPrecondition), a rejected request is our bug (Internal), and the
// rest (throttling such as ProvisionedThroughputExceeded, timeouts, network)
// is worth a retry (Unavailable).
func storeErr(err error, op string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.DeadlineExceeded, err, "dynamodb %s timed out", op)
	}
	if c := errs.CodeOf(err); c == errs.DeadlineExceeded {
		return errs.Wrap(c, err, "dynamodb %s timed out", op)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			return errs.Wrap(errs.FailedPrecondition, err, "dynamodb %s: table not found", op)
		case "ValidationException", "IdempotentParameterMismatchException":
			return errs.Wrap(errs.Internal, err, "dynamodb %s: request rejected", op)
		}
	}
	return errs.Wrap(errs.Unavailable, err, "dynamodb %s failed", op)
}
