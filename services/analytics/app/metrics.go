package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Metrics are the analytics unit's own metrics.
type Metrics struct {
	Consumed        prometheus.Counter
	Invalid         prometheus.Counter
	Ticks           prometheus.Counter
	Duplicates      prometheus.Counter
	Late            prometheus.Counter
	WindowsClosed   prometheus.Counter
	StoreErrors     prometheus.Counter
	ResultsProduced prometheus.Counter
	ProduceErrors   prometheus.Counter
	Archived        prometheus.Counter
	ArchiveErrors   prometheus.Counter
	OpenWindows     prometheus.Gauge
	WatermarkLag    prometheus.Gauge
	OutboxPending   prometheus.Gauge
}

// NewMetrics registers the analytics metrics on r.
func NewMetrics(r *metrics.Registry) *Metrics {
	return &Metrics{
		Consumed:        r.Counter("shoplab_analytics_events_consumed_total", "OrderPlaced records read from the orders topic and fed to the window engine."),
		Invalid:         r.Counter("shoplab_analytics_events_invalid_total", "Records on the orders topic that are not a valid OrderPlaced event; skipped."),
		Ticks:           r.Counter("shoplab_analytics_watermark_ticks_skipped_total", "Watermark ticks (the Flink engine's quiet-source records) on the orders topic; skipped without moving the watermark."),
		Duplicates:      r.Counter("shoplab_analytics_duplicates_dropped_total", "Events dropped because their event id was already accounted for."),
		Late:            r.Counter("shoplab_analytics_late_events_total", "Events dropped because their window had closed; reported in the late_events of the next window."),
		WindowsClosed:   r.Counter("shoplab_analytics_windows_closed_total", "Windows closed and persisted."),
		StoreErrors:     r.Counter("shoplab_analytics_store_errors_total", "Failed attempts to persist closed windows; retried on the next tick."),
		ResultsProduced: r.Counter("shoplab_analytics_results_produced_total", "Window results produced to analytics-results."),
		ProduceErrors:   r.Counter("shoplab_analytics_produce_errors_total", "Failed attempts to produce a window result; retried."),
		Archived:        r.Counter("shoplab_analytics_windows_archived_total", "Window results archived to object storage."),
		ArchiveErrors:   r.Counter("shoplab_analytics_archive_errors_total", "Failed attempts to archive a window result; retried."),
		OpenWindows:     r.Gauge("shoplab_analytics_open_windows", "Windows holding counted events, waiting for the watermark."),
		WatermarkLag:    r.Gauge("shoplab_analytics_watermark_lag_seconds", "Processing time minus the combined event-time watermark."),
		OutboxPending:   r.Gauge("shoplab_analytics_outbox_pending", "Persisted windows not yet both produced and archived."),
	}
}
