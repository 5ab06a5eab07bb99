// Package app holds the analytics use cases: the processor that feeds the
// window engine from the orders topic and persists what it closes, and the
// relay that publishes and archives persisted windows. It owns the small
// interfaces it needs; adapters implement them.
package app

import (
	"context"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/api/events"
)

// Record is one record read from the orders topic.
type Record struct {
	Partition int32
	Offset    int64
	Value     []byte
}

// Committer commits consumed offsets for the consumer-group session that
// handed out the partitions.
type Committer interface {
	// Commit stores offsets, partition -> next offset to read.
	Commit(offsets map[int32]int64)
}

// WindowStore is the processor's view of the window store: it persists
// closed windows (with the ids they account for and the watermark that
// closed them) and gives the state back after a restart.
type WindowStore interface {
	// Checkpoint returns the watermark and accounted ids persisted so far.
	Checkpoint(ctx context.Context) (analytics.Checkpoint, error)
	// SaveClosed persists windows in one transaction, unpublished and
	// unarchived, records watermark, and forgets accounted ids of windows
	// starting before horizon (zero: keep all).
	SaveClosed(ctx context.Context, windows []analytics.Window, watermark, horizon time.Time) error
}

// PendingWindow is a persisted window the relay has not finished with.
type PendingWindow struct {
	Start     time.Time
	Body      []byte // the events.WindowResult JSON, byte for byte what is published and archived
	Published bool
	Archived  bool
}

// Outbox is the relay's view of the window store.
type Outbox interface {
	// Pending returns up to limit windows not yet both published and
	// archived, oldest first.
	Pending(ctx context.Context, limit int) ([]PendingWindow, error)
	MarkPublished(ctx context.Context, start, at time.Time) error
	MarkArchived(ctx context.Context, start, at time.Time) error
}

// WindowLister reads persisted window results, newest first.
type WindowLister interface {
	ListWindows(ctx context.Context, limit int) ([]events.WindowResult, error)
}

// Publisher sends a window result to analytics-results.
type Publisher interface {
	Publish(ctx context.Context, start time.Time, body []byte) error
}

// Archiver stores a window result in object storage.
type Archiver interface {
	Archive(ctx context.Context, start time.Time, body []byte) error
}
