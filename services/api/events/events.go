// Package events defines the JSON events on shoplab's Kafka topics. The
// order unit produces them; notification and analytics consume them.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Topic names, the same in every env.
const (
	TopicOrders           = "orders"
	TopicAnalyticsResults = "analytics-results"
	TopicOrdersDLQ        = "orders-dlq"
)

// SchemaVersion is the version of OrderPlaced written today.
const SchemaVersion = 1

// TypeOrderPlaced is the type of an OrderPlaced event.
const TypeOrderPlaced = "OrderPlaced"

// TypeWatermarkTick is the type of the records the Flink engine's quiet
// ticker writes to orders (sim/cloud): Flink's watermark moves only on
// records, so a quiet source gets one tick per partition to close its last
// windows. A tick carries schema_version, type and occurred_at only; every
// consumer skips it (DecodeOrderPlaced answers ErrWatermarkTick) and
// counts it, none dead-letters it.
const TypeWatermarkTick = "WatermarkTick"

// ErrWatermarkTick is DecodeOrderPlaced's answer to a tick record: not an
// order, and not an invalid record either.
var ErrWatermarkTick = errors.New("decode OrderPlaced: a watermark tick")

// millisUTC is the layout of the timestamps shoplab writes for Flink:
// UTC, milliseconds, "Z" (Flink's ISO-8601 parser accepts nothing else).
const millisUTC = "2006-01-02T15:04:05.000Z"

// WatermarkTick is the body of a TypeWatermarkTick record.
type WatermarkTick struct {
	SchemaVersion int    `json:"schema_version"`
	Type          string `json:"type"`
	OccurredAt    string `json:"occurred_at"` // millisUTC
}

// EncodeWatermarkTick returns the record of a tick at event time at.
func EncodeWatermarkTick(at time.Time) []byte {
	b, _ := json.Marshal(WatermarkTick{SchemaVersion: SchemaVersion, Type: TypeWatermarkTick, OccurredAt: at.UTC().Format(millisUTC)})
	return b
}

// OrderPlaced says that an order was paid. Its key on the topic is OrderID.
type OrderPlaced struct {
	SchemaVersion int        `json:"schema_version"`
	EventID       string     `json:"event_id"`
	Type          string     `json:"type"`
	OccurredAt    time.Time  `json:"occurred_at"` // event time: when the order was paid
	OrderID       string     `json:"order_id"`
	UserID        string     `json:"user_id"`
	UserEmail     string     `json:"user_email,omitempty"`
	Items         []LineItem `json:"items"`
	TotalCents    int64      `json:"total_cents"`
	Currency      string     `json:"currency"`
}

// LineItem is one line of an OrderPlaced event.
type LineItem struct {
	ProductID      string `json:"product_id"`
	Quantity       int32  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	Category       string `json:"category"`
}

// DecodeOrderPlaced parses and validates an OrderPlaced event.
func DecodeOrderPlaced(b []byte) (OrderPlaced, error) {
	var e OrderPlaced
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode OrderPlaced: %w", err)
	}
	switch {
	case e.Type == TypeWatermarkTick && e.SchemaVersion >= 1 && e.SchemaVersion <= SchemaVersion:
		return e, ErrWatermarkTick
	case e.Type != TypeOrderPlaced:
		return e, fmt.Errorf("decode OrderPlaced: type %q", e.Type)
	case e.SchemaVersion < 1 || e.SchemaVersion > SchemaVersion:
		return e, fmt.Errorf("decode OrderPlaced: unsupported schema_version %d", e.SchemaVersion)
	case e.EventID == "" || e.OrderID == "":
		return e, fmt.Errorf("decode OrderPlaced: event_id and order_id are required")
	case e.OccurredAt.IsZero():
		return e, fmt.Errorf("decode OrderPlaced: occurred_at is required")
	case e.OccurredAt.Location() != time.UTC:
		// Producers write UTC ("...Z"). Flink's ISO-8601 parser accepts
		// nothing else and drops such a record; refusing it here keeps
		// both analytics engines agreeing on what they count.
		return e, fmt.Errorf("decode OrderPlaced: occurred_at must be UTC with a Z suffix, got offset %s", e.OccurredAt.Format("-07:00"))
	}
	return e, nil
}

// WindowResultSchemaVersion is the version of WindowResult written today.
const WindowResultSchemaVersion = 1

// WindowEventID is the event id of the result of window [start, end): a
// function of the window alone, so a window emitted again (at-least-once
// delivery, a replay, the other engine) has the same id and consumers
// deduplicate by it. Both engines write it, the Flink job (orders.sql)
// with DATE_FORMAT in the same layout on both bounds.
func WindowEventID(start, end time.Time) string {
	return "window-" + start.UTC().Format(millisUTC) + "-" + end.UTC().Format(millisUTC)
}

// WindowResult is one closed analytics window on analytics-results.
type WindowResult struct {
	SchemaVersion int            `json:"schema_version"`
	EventID       string         `json:"event_id"` // WindowEventID(WindowStart, WindowEnd)
	WindowStart   time.Time      `json:"window_start"`
	WindowEnd     time.Time      `json:"window_end"`
	OrderCount    int64          `json:"order_count"`
	RevenueCents  int64          `json:"revenue_cents"`
	ItemsSold     int64          `json:"items_sold"`
	DistinctUsers int64          `json:"distinct_users"`
	TopProducts   []ProductUnits `json:"top_products"`
	OrderIDs      []string       `json:"order_ids,omitempty"` // for reconciliation; sorted
	LateEvents    int64          `json:"late_events"`
	ClosedAt      time.Time      `json:"closed_at"`
}

// ProductUnits is a product and the units it sold in a window.
type ProductUnits struct {
	ProductID string `json:"product_id"`
	Units     int64  `json:"units"`
}
