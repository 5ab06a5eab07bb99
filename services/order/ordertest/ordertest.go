// Package ordertest is the contract suite every app.Store adapter runs
// (SQLite today, PostgreSQL later), so that the use cases can rely on the
// same behaviour whatever stores their orders.
package ordertest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/order/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// NewStore returns an empty store for one test; it closes it in t.Cleanup.
type NewStore func(t *testing.T) app.Store

// Run runs the contract suite against the stores newStore makes.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, app.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"IdempotencyKeyIsUniquePerUser", testKeyUnique},
		{"StatusTransitions", testTransitions},
		{"PaidAndOutboxAreAtomic", testPaidAtomic},
		{"FailedKeepsPricing", testFailedPricing},
		{"PendingBefore", testPendingBefore},
		{"OutboxOrderAndMarking", testOutbox},
		{"ListPaging", testListPaging},
		{"ClaimOutboxLeases", testClaimOutbox},
		{"ConcurrentOutboxClaimsAreDisjoint", testConcurrentClaims},
		{"ClaimPendingLeases", testClaimPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var base = time.Date(2030, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// pending returns a PENDING order of user with two items, created at base+n seconds.
func pending(id, user string, n int) order.Order {
	at := base.Add(time.Duration(n) * time.Second)
	return order.Order{
		ID: id, UserID: user, UserEmail: user + "@example.com", Status: order.StatusPending,
		Items:          []order.Item{{ProductID: "p-b", Quantity: 2}, {ProductID: "p-a", Quantity: 1}},
		IdempotencyKey: "key-" + id, RequestHash: "hash-" + id, CreatedAt: at, UpdatedAt: at,
	}
}

func pricing() order.Pricing {
	return order.Pricing{
		Items: []order.Item{
			{ProductID: "p-b", Name: "Bee", Category: "garden", Quantity: 2, UnitPriceCents: 250},
			{ProductID: "p-a", Name: "Ant", Category: "toys", Quantity: 1, UnitPriceCents: 1000},
		},
		TotalCents: 1500, Currency: "EUR",
	}
}

func msg(eventID, key string) app.OutboxMessage {
	return app.OutboxMessage{EventID: eventID, Topic: "orders", Key: key, Payload: []byte(`{"event_id":"` + eventID + `"}`)}
}

func mustCreate(t *testing.T, s app.Store, o order.Order) {
	t.Helper()
	if err := s.Create(t.Context(), o); err != nil {
		t.Fatalf("Create(%s): %v", o.ID, err)
	}
}

func mustGet(t *testing.T, s app.Store, id string) order.Order {
	t.Helper()
	o, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return o
}

func backlog(t *testing.T, s app.Store) int {
	t.Helper()
	n, err := s.OutboxBacklog(t.Context())
	if err != nil {
		t.Fatalf("OutboxBacklog: %v", err)
	}
	return n
}

func wantCode(t *testing.T, what string, err error, code errs.Code) {
	t.Helper()
	if errs.CodeOf(err) != code {
		t.Fatalf("%s: got %v (code %q), want code %q", what, err, errs.CodeOf(err), code)
	}
}

func testCreateAndGet(t *testing.T, s app.Store) {
	want := pending("o1", "u1", 0)
	mustCreate(t, s, want)
	got := mustGet(t, s, "o1")
	if got.ID != want.ID || got.UserID != want.UserID || got.UserEmail != want.UserEmail || got.Status != order.StatusPending ||
		got.IdempotencyKey != want.IdempotencyKey || got.RequestHash != want.RequestHash {
		t.Fatalf("Get = %+v, want %+v", got, want)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("times = %v/%v, want %v (nanosecond precision)", got.CreatedAt, got.UpdatedAt, want.CreatedAt)
	}
	if !slices.Equal(got.Items, want.Items) {
		t.Fatalf("items = %+v, want %+v in request order", got.Items, want.Items)
	}
	byKey, err := s.GetByKey(t.Context(), "u1", "key-o1")
	if err != nil || byKey.ID != "o1" {
		t.Fatalf("GetByKey = %v, %v", byKey.ID, err)
	}
	_, err = s.Get(t.Context(), "nope")
	wantCode(t, "Get(missing)", err, errs.NotFound)
	_, err = s.GetByKey(t.Context(), "u2", "key-o1")
	wantCode(t, "GetByKey(other user)", err, errs.NotFound)
}

func testKeyUnique(t *testing.T, s app.Store) {
	mustCreate(t, s, pending("o1", "u1", 0))
	dup := pending("o2", "u1", 1)
	dup.IdempotencyKey = "key-o1"
	wantCode(t, "Create(same user, same key)", s.Create(t.Context(), dup), errs.Conflict)
	if _, err := s.Get(t.Context(), "o2"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("the refused order was stored (or its items were): %v", err)
	}
	other := pending("o3", "u2", 2)
	other.IdempotencyKey = "key-o1"
	mustCreate(t, s, other) // keys are per user
	wantCode(t, "Create(same id)", s.Create(t.Context(), pending("o1", "u9", 3)), errs.Conflict)
}

func testTransitions(t *testing.T, s app.Store) {
	ctx := t.Context()
	mustCreate(t, s, pending("paid", "u1", 0))
	mustCreate(t, s, pending("failed", "u1", 1))
	at := base.Add(time.Minute)

	paid, err := s.MarkPaid(ctx, "paid", pricing(), at, msg("e1", "paid"))
	if err != nil {
		t.Fatalf("MarkPaid: %v", err)
	}
	if paid.Status != order.StatusPaid || paid.TotalCents != 1500 || paid.Currency != "EUR" || !paid.UpdatedAt.Equal(at) {
		t.Fatalf("MarkPaid returned %+v", paid)
	}
	if !slices.Equal(paid.Items, pricing().Items) {
		t.Fatalf("paid items = %+v, want %+v", paid.Items, pricing().Items)
	}
	if !slices.Equal(mustGet(t, s, "paid").Items, pricing().Items) {
		t.Fatal("stored items are not priced")
	}

	failed, err := s.MarkFailed(ctx, "failed", app.Failure{Code: order.FailureOutOfStock, Message: "gone"}, at)
	if err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}
	if failed.Status != order.StatusFailed || failed.FailureCode != order.FailureOutOfStock || failed.FailureMessage != "gone" {
		t.Fatalf("MarkFailed returned %+v", failed)
	}

	// Settled orders never move again, and a refused move writes nothing.
	_, err = s.MarkPaid(ctx, "paid", pricing(), at, msg("e2", "paid"))
	wantCode(t, "PAID -> PAID", err, errs.FailedPrecondition)
	_, err = s.MarkFailed(ctx, "paid", app.Failure{Code: order.FailurePaymentDeclined}, at)
	wantCode(t, "PAID -> FAILED", err, errs.FailedPrecondition)
	_, err = s.MarkPaid(ctx, "failed", pricing(), at, msg("e3", "failed"))
	wantCode(t, "FAILED -> PAID", err, errs.FailedPrecondition)
	_, err = s.MarkFailed(ctx, "failed", app.Failure{Code: order.FailurePaymentDeclined}, at)
	wantCode(t, "FAILED -> FAILED", err, errs.FailedPrecondition)
	_, err = s.MarkPaid(ctx, "missing", pricing(), at, msg("e4", "missing"))
	wantCode(t, "MarkPaid(missing)", err, errs.NotFound)
	_, err = s.MarkFailed(ctx, "missing", app.Failure{Code: order.FailureOutOfStock}, at)
	wantCode(t, "MarkFailed(missing)", err, errs.NotFound)

	if got := mustGet(t, s, "paid"); got.Status != order.StatusPaid || got.FailureCode != "" {
		t.Fatalf("paid order changed: %+v", got)
	}
	if got := mustGet(t, s, "failed"); got.Status != order.StatusFailed || got.FailureCode != order.FailureOutOfStock {
		t.Fatalf("failed order changed: %+v", got)
	}
	if n := backlog(t, s); n != 1 {
		t.Fatalf("outbox backlog = %d, want exactly the first PAID's row", n)
	}
}

func testPaidAtomic(t *testing.T, s app.Store) {
	ctx := t.Context()
	mustCreate(t, s, pending("a", "u1", 0))
	mustCreate(t, s, pending("b", "u1", 1))
	if _, err := s.MarkPaid(ctx, "a", pricing(), base, msg("same-event", "a")); err != nil {
		t.Fatalf("MarkPaid(a): %v", err)
	}
	// The outbox insert of b fails (its event id is taken): b must stay
	// PENDING, unpriced, with no outbox row.
	if _, err := s.MarkPaid(ctx, "b", pricing(), base, msg("same-event", "b")); err == nil {
		t.Fatal("MarkPaid with a duplicate event id succeeded")
	}
	b := mustGet(t, s, "b")
	if b.Status != order.StatusPending || b.TotalCents != 0 || b.Items[0].UnitPriceCents != 0 {
		t.Fatalf("order b after a failed outbox insert = %+v, want untouched PENDING", b)
	}
	if n := backlog(t, s); n != 1 {
		t.Fatalf("backlog = %d, want 1", n)
	}
	// And it can still be paid afterwards.
	if _, err := s.MarkPaid(ctx, "b", pricing(), base, msg("event-b", "b")); err != nil {
		t.Fatalf("MarkPaid(b) retry: %v", err)
	}
}

func testFailedPricing(t *testing.T, s app.Store) {
	ctx := t.Context()
	mustCreate(t, s, pending("o1", "u1", 0))
	p := pricing()
	failed, err := s.MarkFailed(ctx, "o1", app.Failure{Code: order.FailurePaymentDeclined, Message: "card_declined", Pricing: &p}, base)
	if err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}
	if failed.TotalCents != 1500 || !slices.Equal(failed.Items, p.Items) {
		t.Fatalf("failed order = %+v, want priced", failed)
	}
	_, err = s.MarkFailed(ctx, "o1", app.Failure{}, base)
	if err == nil {
		t.Fatal("MarkFailed without a failure code succeeded")
	}
	if n := backlog(t, s); n != 0 {
		t.Fatalf("a FAILED order wrote %d outbox rows", n)
	}
}

func testPendingBefore(t *testing.T, s app.Store) {
	ctx := t.Context()
	for i, id := range []string{"old2", "old1", "paid", "new"} {
		o := pending(id, "u1", []int{2, 1, 0, 10}[i])
		mustCreate(t, s, o)
	}
	if _, err := s.MarkPaid(ctx, "paid", pricing(), base, msg("e", "paid")); err != nil {
		t.Fatal(err)
	}
	got, err := s.PendingBefore(ctx, base.Add(5*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := idsOf(got); !slices.Equal(ids, []string{"old1", "old2"}) {
		t.Fatalf("PendingBefore = %v, want [old1 old2] (oldest first, PENDING only, older than t)", ids)
	}
	if len(got[0].Items) != 2 {
		t.Fatalf("PendingBefore orders lack their items: %+v", got[0])
	}
	got, err = s.PendingBefore(ctx, base.Add(time.Hour), 1)
	if err != nil || !slices.Equal(idsOf(got), []string{"old1"}) {
		t.Fatalf("PendingBefore(limit 1) = %v, %v", idsOf(got), err)
	}
}

func testOutbox(t *testing.T, s app.Store) {
	ctx := t.Context()
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("o%d", i)
		mustCreate(t, s, pending(id, "u1", i))
		if _, err := s.MarkPaid(ctx, id, pricing(), base.Add(time.Duration(i)*time.Second), msg("e"+id, id)); err != nil {
			t.Fatal(err)
		}
		want = append(want, "e"+id)
	}
	recs, err := s.UnpublishedOutbox(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(recs); !slices.Equal(got, want[:3]) {
		t.Fatalf("first batch = %v, want %v", got, want[:3])
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].ID <= recs[i-1].ID {
			t.Fatalf("outbox ids not increasing: %d then %d", recs[i-1].ID, recs[i].ID)
		}
	}
	r := recs[0]
	if r.Topic != "orders" || r.Key != "o0" || string(r.Payload) != `{"event_id":"eo0"}` || r.CreatedAt.IsZero() {
		t.Fatalf("outbox record = %+v", r)
	}
	// Mark the 1st and 3rd: the 2nd stays first in line.
	if err := s.MarkPublished(ctx, []int64{recs[0].ID, recs[2].ID}, base); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPublished(ctx, []int64{recs[0].ID}, base); err != nil {
		t.Fatalf("marking twice: %v", err)
	}
	if err := s.MarkPublished(ctx, nil, base); err != nil {
		t.Fatalf("marking nothing: %v", err)
	}
	if n := backlog(t, s); n != 3 {
		t.Fatalf("backlog = %d, want 3", n)
	}
	recs, err = s.UnpublishedOutbox(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(recs); !slices.Equal(got, []string{want[1], want[3], want[4]}) {
		t.Fatalf("remaining = %v", got)
	}
	ids := make([]int64, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if err := s.MarkPublished(ctx, ids, base); err != nil {
		t.Fatal(err)
	}
	if recs, _ := s.UnpublishedOutbox(ctx, 10); len(recs) != 0 || backlog(t, s) != 0 {
		t.Fatalf("outbox not drained: %v", eventIDs(recs))
	}
}

func testListPaging(t *testing.T, s app.Store) {
	ctx := t.Context()
	// 7 orders of u1 and 3 of u2; two of u1 share a creation time so the id breaks the tie.
	var u1 []string
	for i := range 7 {
		id := fmt.Sprintf("u1-%d", i)
		n := i
		if i == 4 {
			n = 3
		}
		mustCreate(t, s, pending(id, "u1", n))
		u1 = append(u1, id)
	}
	for i := range 3 {
		mustCreate(t, s, pending(fmt.Sprintf("u2-%d", i), "u2", 20+i))
	}
	if _, err := s.MarkPaid(ctx, "u1-5", pricing(), base, msg("e", "u1-5")); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(u1) // newest first: 6 5 4 3 2 1 0 (4 and 3 tie; "u1-4" > "u1-3")
	got := pageAll(t, s, order.ListQuery{UserID: "u1", Limit: 3})
	if !slices.Equal(got, u1) {
		t.Fatalf("paging u1 = %v, want %v", got, u1)
	}
	all := pageAll(t, s, order.ListQuery{Limit: 4})
	if len(all) != 10 || all[0] != "u2-2" || all[3] != "u1-6" {
		t.Fatalf("paging everyone = %v", all)
	}
	paid := pageAll(t, s, order.ListQuery{UserID: "u1", Status: order.StatusPaid, Limit: 2})
	if !slices.Equal(paid, []string{"u1-5"}) {
		t.Fatalf("PAID of u1 = %v", paid)
	}
	page, err := s.List(ctx, order.ListQuery{UserID: "nobody", Limit: 5})
	if err != nil || len(page) != 0 {
		t.Fatalf("List(nobody) = %v, %v", idsOf(page), err)
	}
	page, err = s.List(ctx, order.ListQuery{UserID: "u2", Limit: 1})
	if err != nil || len(page) != 1 || len(page[0].Items) != 2 {
		t.Fatalf("listed orders lack items: %+v, %v", page, err)
	}
}

// pageAll walks q's pages by cursor and returns every id seen.
func pageAll(t *testing.T, s app.Store, q order.ListQuery) []string {
	t.Helper()
	var ids []string
	for range 100 {
		page, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if len(page) > q.Limit {
			t.Fatalf("List returned %d orders, limit %d", len(page), q.Limit)
		}
		ids = append(ids, idsOf(page)...)
		if len(page) < q.Limit {
			return ids
		}
		last := page[len(page)-1]
		q.After = &order.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	t.Fatal("paging did not end")
	return nil
}

func idsOf(os []order.Order) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.ID
	}
	return out
}

func eventIDs(recs []app.OutboxRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.EventID
	}
	return out
}

// paidOrders creates n PAID orders, each with its outbox row, and returns their event ids.
func paidOrders(t *testing.T, s app.Store, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("o%03d", i)
		mustCreate(t, s, pending(id, "u1", i))
		if _, err := s.MarkPaid(t.Context(), id, pricing(), base, msg("e"+id, id)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, "e"+id)
	}
	return ids
}

func claim(owner string, now time.Time, limit int) app.Claim {
	return app.Claim{Owner: owner, Now: now, Lease: time.Minute, Limit: limit}
}

func testClaimOutbox(t *testing.T, s app.Store) {
	ctx := t.Context()
	want := paidOrders(t, s, 5)
	a, err := s.ClaimOutbox(ctx, claim("a", base, 3))
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(a); !slices.Equal(got, want[:3]) {
		t.Fatalf("a claimed %v, want %v", got, want[:3])
	}
	b, err := s.ClaimOutbox(ctx, claim("b", base.Add(time.Second), 10))
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(b); !slices.Equal(got, want[3:]) {
		t.Fatalf("b claimed %v while a's lease runs, want only %v", got, want[3:])
	}
	// An owner may claim its own rows again (a relay retrying after a failed publish).
	again, err := s.ClaimOutbox(ctx, claim("a", base.Add(2*time.Second), 10))
	if err != nil || !slices.Equal(eventIDs(again), want[:3]) {
		t.Fatalf("a re-claiming its rows = %v, %v", eventIDs(again), err)
	}
	if err := s.MarkPublished(ctx, []int64{a[0].ID}, base); err != nil {
		t.Fatal(err)
	}
	// a's lease (renewed at base+2s) ends at base+62s, b's at base+61s:
	// a third owner then gets every row not yet published.
	c, err := s.ClaimOutbox(ctx, claim("c", base.Add(30*time.Second), 10))
	if err != nil || len(c) != 0 {
		t.Fatalf("c claimed %v, %v while the leases run", eventIDs(c), err)
	}
	c, err = s.ClaimOutbox(ctx, claim("c", base.Add(63*time.Second), 10))
	if err != nil || !slices.Equal(eventIDs(c), want[1:]) {
		t.Fatalf("c after the leases ended = %v, %v, want %v", eventIDs(c), err, want[1:])
	}
	_, err = s.ClaimOutbox(ctx, app.Claim{Now: base, Lease: time.Minute, Limit: 1})
	wantCode(t, "ClaimOutbox without an owner", err, errs.Invalid)
}

// testConcurrentClaims races claimers of distinct owners: no row may be
// handed to two of them, and together they get every row.
func testConcurrentClaims(t *testing.T, s app.Store) {
	want := paidOrders(t, s, 40)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 4 {
		owner := fmt.Sprintf("relay-%d", w)
		wg.Go(func() {
			for {
				recs, err := s.ClaimOutbox(t.Context(), claim(owner, base, 3))
				if err != nil {
					errc <- fmt.Errorf("%s: %w", owner, err)
					return
				}
				mu.Lock()
				for _, r := range recs {
					if prev, ok := seen[r.EventID]; ok && prev != owner {
						mu.Unlock()
						errc <- fmt.Errorf("row %s claimed by %s and %s", r.EventID, prev, owner)
						return
					}
					seen[r.EventID] = owner
				}
				mu.Unlock()
				if len(recs) == 0 {
					return
				}
				ids := make([]int64, len(recs))
				for i, r := range recs {
					ids[i] = r.ID
				}
				if err := s.MarkPublished(t.Context(), ids, base); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if len(seen) != len(want) {
		t.Fatalf("claimed %d distinct rows, want %d", len(seen), len(want))
	}
	if n := backlog(t, s); n != 0 {
		t.Fatalf("backlog = %d after every claim was published", n)
	}
}

func testClaimPending(t *testing.T, s app.Store) {
	ctx := t.Context()
	for i, id := range []string{"p0", "p1", "p2", "paid"} {
		mustCreate(t, s, pending(id, "u1", i))
	}
	if _, err := s.MarkPaid(ctx, "paid", pricing(), base, msg("e", "paid")); err != nil {
		t.Fatal(err)
	}
	before := base.Add(time.Hour)
	a, err := s.ClaimPending(ctx, before, claim("a", base, 2))
	if err != nil || !slices.Equal(idsOf(a), []string{"p0", "p1"}) {
		t.Fatalf("a claimed %v, %v, want [p0 p1]", idsOf(a), err)
	}
	if len(a[0].Items) != 2 {
		t.Fatalf("claimed orders lack their items: %+v", a[0])
	}
	b, err := s.ClaimPending(ctx, before, claim("b", base, 10))
	if err != nil || !slices.Equal(idsOf(b), []string{"p2"}) {
		t.Fatalf("b claimed %v, %v while a's lease runs, want [p2]", idsOf(b), err)
	}
	again, err := s.ClaimPending(ctx, before, claim("a", base.Add(time.Second), 10))
	if err != nil || !slices.Equal(idsOf(again), []string{"p0", "p1"}) {
		t.Fatalf("a re-claiming = %v, %v", idsOf(again), err)
	}
	if _, err := s.MarkFailed(ctx, "p0", app.Failure{Code: order.FailureDependencyUnavailable}, base); err != nil {
		t.Fatal(err)
	}
	c, err := s.ClaimPending(ctx, before, claim("c", base.Add(2*time.Minute), 10))
	if err != nil || !slices.Equal(idsOf(c), []string{"p1", "p2"}) {
		t.Fatalf("c after the leases ended = %v, %v, want [p1 p2] (settled orders are never claimed)", idsOf(c), err)
	}
	if got, err := s.ClaimPending(ctx, base.Add(2*time.Second), claim("d", base.Add(time.Hour), 10)); err != nil || !slices.Equal(idsOf(got), []string{"p1"}) {
		t.Fatalf("ClaimPending(before base+2s) = %v, %v, want [p1]", idsOf(got), err)
	}
}
