package main

import "fmt"

// The dashboards, written against the metric names the units, the chaos
// engine, node-exporter, kube-state-metrics, cAdvisor, the broker's JMX
// exporter (shoplab deps up --kafka-jmx-exporter) and Flink's Prometheus
// reporter really export. dashboards/live_test.go evaluates every query
// below against a real Prometheus scraping them.

// ri is Grafana's rate window for the panel's step and scrape interval.
const ri = "[$__rate_interval]"

func boards() []board {
	out := []board{clusterHealth(), serviceMetrics(), kafka(), flinkJob(), analytics(), hpa(), chaos()}
	for _, u := range []string{"gateway", "user", "product", "order", "payment", "notification", "analytics"} {
		out = append(out, unitBoard(u))
	}
	return out
}

func clusterHealth() board {
	return newBoard("shoplab-cluster-health", "shoplab / Cluster health",
		"CPU, memory and disk: the process collectors of every shoplab process (every env), node-exporter for the machines, kube-state-metrics and cAdvisor in Kubernetes.", "cluster").add(
		r("Processes (process and Go collectors)",
			ts("CPU per process", "short",
				q("sum by (job, instance) (rate(process_cpu_seconds_total"+ri+"))", "{{job}} {{instance}}")).
				desc("Cores used; with `shoplab up` every unit shares one process."),
			ts("Resident memory per process", "bytes",
				q("sum by (job, instance) (process_resident_memory_bytes)", "{{job}} {{instance}}")),
			ts("Go heap in use", "bytes",
				q("sum by (job, instance) (go_memstats_heap_inuse_bytes)", "{{job}} {{instance}}")).width(8),
			ts("Goroutines", "short",
				q("sum by (job, instance) (go_goroutines)", "{{job}} {{instance}}")).width(8),
			ts("File descriptors used", "percentunit",
				q("max by (job, instance) (process_open_fds / process_max_fds)", "{{job}} {{instance}}")).width(8),
		),
		r("Nodes (node-exporter)",
			ts("Node CPU busy", "percentunit",
				q(`1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}`+ri+"))", "{{instance}}")).width(8),
			ts("Node memory used", "percentunit",
				q("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}")).width(8),
			ts("Load average (1m) per core", "short",
				q(`node_load1 / on (instance) count by (instance) (node_cpu_seconds_total{mode="idle"})`, "{{instance}}")).width(8),
			ts("Disk space used", "percentunit",
				q(`1 - node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|squashfs|nsfs|proc|sysfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|squashfs|nsfs|proc|sysfs"}`, "{{instance}} {{mountpoint}}")),
			ts("Disk I/O busy", "percentunit",
				q("rate(node_disk_io_time_seconds_total"+ri+")", "{{instance}} {{device}}")),
		),
		r("Kubernetes (kube-state-metrics, cAdvisor)",
			ts("Pod CPU (namespace ecommerce)", "short",
				q(`sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="ecommerce", container!=""}`+ri+"))", "{{pod}}")),
			ts("Pod memory working set (namespace ecommerce)", "bytes",
				q(`sum by (pod) (container_memory_working_set_bytes{namespace="ecommerce", container!=""})`, "{{pod}}")),
			ts("Available vs desired replicas", "short",
				q(`sum by (deployment) (kube_deployment_status_replicas_available{namespace="ecommerce"})`, "{{deployment}} available"),
				q(`sum by (deployment) (kube_deployment_spec_replicas{namespace="ecommerce"})`, "{{deployment}} desired")),
			ts("Container restarts (1h)", "short",
				q(`sum by (pod) (increase(kube_pod_container_status_restarts_total{namespace="ecommerce"}[1h]))`, "{{pod}}")),
		),
	)
}

func serviceMetrics() board {
	return newBoard("shoplab-services", "shoplab / Service metrics",
		"RPS, latency and errors per unit from shoplab_requests_total, shoplab_request_errors_total and shoplab_request_duration_seconds (services/platform/metrics), plus the calls between units.", "services").withChaos().add(
		r("Requests",
			ts("Requests per second by unit", "reqps",
				q("sum by (unit) (rate(shoplab_requests_total"+ri+"))", "{{unit}}")),
			ts("Server error ratio by unit", "percentunit",
				q("sum by (unit) (rate(shoplab_request_errors_total"+ri+")) / sum by (unit) (rate(shoplab_requests_total"+ri+"))", "{{unit}}")).
				desc("5xx answers and gRPC server errors over all requests; a unit without errors draws no line."),
			ts("p95 latency by unit", "s",
				q("histogram_quantile(0.95, sum by (unit, le) (rate(shoplab_request_duration_seconds_bucket"+ri+")))", "{{unit}}")),
			ts("p99 latency by unit", "s",
				q("histogram_quantile(0.99, sum by (unit, le) (rate(shoplab_request_duration_seconds_bucket"+ri+")))", "{{unit}}")),
		),
		r("Checkout (POST /api/v1/orders at the gateway)",
			ts("Checkouts by status code", "reqps",
				q(`sum by (code) (rate(shoplab_requests_total{unit="gateway", method="POST /api/v1/orders"}`+ri+"))", "{{code}}")).width(8),
			ts("Checkouts within 500 ms (latency SLO 99%)", "percentunit",
				q(`sum(rate(shoplab_request_duration_seconds_bucket{unit="gateway", method="POST /api/v1/orders", le="0.5"}`+ri+`)) / sum(rate(shoplab_request_duration_seconds_count{unit="gateway", method="POST /api/v1/orders"}`+ri+"))", "within 500 ms")).width(8),
			ts("Orders by outcome", "reqps",
				q("sum by (outcome) (rate(shoplab_gateway_orders_total"+ri+"))", "{{outcome}}")).width(8),
		),
		r("Calls between units",
			ts("Outgoing call p95 by edge", "s",
				q("histogram_quantile(0.95, sum by (unit, target, le) (rate(shoplab_client_call_duration_seconds_bucket"+ri+")))", "{{unit}} -> {{target}}")),
			ts("Outgoing calls that failed, by edge and code", "reqps",
				q(`sum by (unit, target, code) (rate(shoplab_client_call_duration_seconds_count{code!="OK"}`+ri+"))", "{{unit}} -> {{target}} {{code}}")),
		),
	)
}

func kafka() board {
	return newBoard("shoplab-kafka", "shoplab / Kafka",
		"The broker's own metrics (the Prometheus JMX exporter javaagent on the host broker: shoplab deps up --kafka-jmx-exporter PORT; the same agent backs MSK open monitoring) and the clients' side: outbox backlog, produce and consume rates, consumer lag.", "kafka").withChaos().add(
		r("Broker (JMX exporter)",
			ts("Messages in per second by topic", "short",
				q(`sum by (topic) (rate(kafka_server_brokertopicmetrics_messagesinpersec{topic!=""}`+ri+"))", "{{topic}}")),
			ts("Bytes in and out per second", "Bps",
				q(`sum(rate(kafka_server_brokertopicmetrics_bytesinpersec{topic=""}`+ri+"))", "in"),
				q(`sum(rate(kafka_server_brokertopicmetrics_bytesoutpersec{topic=""}`+ri+"))", "out")),
			ts("Requests per second by type", "reqps",
				q("sum by (request) (rate(kafka_network_requestmetrics_requestspersec"+ri+"))", "{{request}}")).
				desc("Summed over the API versions (the exporter's version label)."),
			ts("Under-replicated and offline partitions", "short",
				q("sum(kafka_server_replicamanager_underreplicatedpartitions)", "under-replicated"),
				q(`sum(kafka_controller_kafkacontroller_value{name="OfflinePartitionsCount"})`, "offline"),
				q(`sum(kafka_controller_kafkacontroller_value{name="ActiveBrokerCount"})`, "active brokers")),
			ts("Log size by topic", "bytes",
				q(`sum by (topic) (kafka_log_log_size{topic!="__cluster_metadata"})`, "{{topic}}")).width(8),
			ts("Request p99 (Produce, Fetch, Metadata)", "ms",
				q(`max by (request) (kafka_network_requestmetrics_totaltimems_p99{request=~"Produce|Fetch|Metadata"})`, "{{request}}")).width(8).
				desc("The broker's own p99 of the total time per request (the timer's 99thPercentile, over its sample)."),
			ts("Broker JVM heap used", "bytes",
				q(`sum(jvm_memory_used_bytes{area="heap"})`, "heap")).width(8),
		),
		r("Clients (the units)",
			ts("Outbox backlog (order)", "short",
				q("sum(shoplab_order_outbox_backlog)", "backlog")).width(8),
			ts("Produced per second", "short",
				q("sum(rate(shoplab_order_outbox_published_total"+ri+"))", "order outbox -> orders"),
				q("sum(rate(shoplab_analytics_results_produced_total"+ri+"))", "analytics -> analytics-results")).width(8),
			ts("Produce errors per second", "short",
				q("sum(rate(shoplab_order_kafka_produce_errors_total"+ri+"))", "order"),
				q("sum(rate(shoplab_analytics_produce_errors_total"+ri+"))", "analytics")).width(8),
			ts("Consumed per second", "short",
				q("sum(rate(shoplab_notification_records_consumed_total"+ri+"))", "notification"),
				q("sum(rate(shoplab_analytics_events_consumed_total"+ri+"))", "analytics")),
			ts("Consumer lag by partition (notification)", "short",
				q("sum by (topic, partition) (shoplab_notification_consumer_lag)", "{{topic}}/{{partition}}")),
		),
	)
}

func flinkJob() board {
	return newBoard("shoplab-flink", "shoplab / Flink job",
		"The analytics Flink SQL job through Flink's Prometheus reporter (flink-metrics-prometheus: the launcher's --prometheus-port, shoplab up --analytics flink --flink-metrics-port PORT).", "flink", "analytics").add(
		r("Job",
			stat("Running jobs", "short", q("sum(flink_jobmanager_numRunningJobs)", "running")),
			stat("Job uptime", "ms", q("max(flink_jobmanager_job_uptime)", "uptime")),
			stat("Restarts", "short", q("max(flink_jobmanager_job_numRestarts)", "restarts")),
			stat("Task slots available", "short", q("sum(flink_jobmanager_taskSlotsAvailable)", "free")),
		),
		r("Throughput",
			ts("Records in per second by task", "short",
				q("sum by (task_name) (rate(flink_taskmanager_job_task_numRecordsIn"+ri+"))", "{{task_name}}")),
			ts("Records out per second by task", "short",
				q("sum by (task_name) (rate(flink_taskmanager_job_task_numRecordsOut"+ri+"))", "{{task_name}}")),
			ts("Busy time by task", "ms",
				q("max by (task_name) (flink_taskmanager_job_task_busyTimeMsPerSecond)", "{{task_name}}")),
			ts("Back-pressured time by task", "ms",
				q("max by (task_name) (flink_taskmanager_job_task_backPressuredTimeMsPerSecond)", "{{task_name}}")),
		),
		r("Kafka source and event time",
			ts("Records pending in the Kafka source (lag)", "short",
				q("sum(flink_taskmanager_job_task_operator_pendingRecords)", "pending")).width(8),
			ts("Event-time lag of emitted records", "ms",
				q("max(flink_taskmanager_job_task_operator_currentEmitEventTimeLag)", "lag")).width(8).
				desc("Processing time minus the event time of the last record the source emitted."),
			ts("Watermark lag by partition", "s",
				q("time() - max by (split) (flink_taskmanager_job_task_operator_split_watermark_currentWatermark > 0) / 1000", "{{split}}")).width(8).
				desc("How far each orders partition's watermark is behind the wall clock; a split without a record yet has none (Long.MIN_VALUE, filtered out)."),
		),
		r("JVM",
			ts("Heap used", "bytes",
				q("sum(flink_jobmanager_Status_JVM_Memory_Heap_Used)", "jobmanager"),
				q("sum(flink_taskmanager_Status_JVM_Memory_Heap_Used)", "taskmanager")),
			ts("CPU load", "percentunit",
				q("max(flink_taskmanager_Status_JVM_CPU_Load)", "taskmanager")),
		),
	)
}

func analytics() board {
	return newBoard("shoplab-analytics", "shoplab / Analytics",
		"The 1-minute tumbling windows of either engine: the Go window engine (shoplab_analytics_*) and the Flink SQL job (its Prometheus reporter).", "analytics").withChaos().add(
		r("Go window engine",
			ts("Windows closed per minute", "short",
				q("sum(rate(shoplab_analytics_windows_closed_total"+ri+")) * 60", "closed")).width(8),
			ts("Events consumed, duplicates and late events per second", "short",
				q("sum(rate(shoplab_analytics_events_consumed_total"+ri+"))", "consumed"),
				q("sum(rate(shoplab_analytics_duplicates_dropped_total"+ri+"))", "duplicates dropped"),
				q("sum(rate(shoplab_analytics_late_events_total"+ri+"))", "late"),
				q("sum(rate(shoplab_analytics_events_invalid_total"+ri+"))", "invalid")).width(8),
			ts("Watermark lag", "s",
				q("max(shoplab_analytics_watermark_lag_seconds)", "lag")).width(8),
			ts("Open windows and results waiting to be produced or archived", "short",
				q("sum(shoplab_analytics_open_windows)", "open"),
				q("sum(shoplab_analytics_outbox_pending)", "pending")),
			ts("Persist, produce and archive errors per second", "short",
				q("sum(rate(shoplab_analytics_store_errors_total"+ri+"))", "store"),
				q("sum(rate(shoplab_analytics_produce_errors_total"+ri+"))", "produce"),
				q("sum(rate(shoplab_analytics_archive_errors_total"+ri+"))", "archive")),
		),
		r("Flink SQL job",
			ts("Records in and out of the job per second", "short",
				q("sum(rate(flink_taskmanager_job_task_numRecordsIn"+ri+"))", "in"),
				q("sum(rate(flink_taskmanager_job_task_numRecordsOut"+ri+"))", "out")).width(8),
			ts("Windows and late events written per minute", "short",
				q(`sum(rate(flink_taskmanager_job_task_operator_numRecordsSend{operator_name=~"results_sink.*"}`+ri+")) * 60", "windows (analytics-results)"),
				q(`sum(rate(flink_taskmanager_job_task_operator_numRecordsSend{operator_name=~"late_sink.*"}`+ri+")) * 60", "late events (late topic)")).width(8).
				desc("What the job's Kafka sinks (results_sink, late_sink in orders.sql) sent."),
			ts("Job restarts", "short",
				q("max(flink_jobmanager_job_numRestarts)", "restarts")).width(8),
		),
	)
}

func hpa() board {
	return newBoard("shoplab-hpa", "shoplab / HPA",
		"The autoscaling/v2 HPAs of argocd/ (product, order, payment) through kube-state-metrics, and what drives them: CPU and requests per unit.", "hpa").add(
		r("Replicas (kube-state-metrics)",
			ts("Current vs desired replicas", "short",
				q(`kube_horizontalpodautoscaler_status_current_replicas{namespace="ecommerce"}`, "{{horizontalpodautoscaler}} current"),
				q(`kube_horizontalpodautoscaler_status_desired_replicas{namespace="ecommerce"}`, "{{horizontalpodautoscaler}} desired")),
			ts("Min and max replicas", "short",
				q(`kube_horizontalpodautoscaler_spec_min_replicas{namespace="ecommerce"}`, "{{horizontalpodautoscaler}} min"),
				q(`kube_horizontalpodautoscaler_spec_max_replicas{namespace="ecommerce"}`, "{{horizontalpodautoscaler}} max")),
			ts("Targets", "short",
				q(`kube_horizontalpodautoscaler_spec_target_metric{namespace="ecommerce"}`, "{{horizontalpodautoscaler}} {{metric_name}} {{metric_target_type}}")),
			ts("Scaling limited (condition ScalingLimited)", "short",
				q(`kube_horizontalpodautoscaler_status_condition{namespace="ecommerce", condition="ScalingLimited", status="true"}`, "{{horizontalpodautoscaler}}")),
		),
		r("What drives them",
			ts("CPU per process", "short",
				q("sum by (job, instance) (rate(process_cpu_seconds_total"+ri+"))", "{{job}} {{instance}}")),
			ts("Requests per second by unit", "reqps",
				q("sum by (unit) (rate(shoplab_requests_total"+ri+"))", "{{unit}}")),
		),
	)
}

func chaos() board {
	return newBoard("shoplab-chaos", "shoplab / Chaos",
		"Faults of the chaos engine (the embedded toxiproxy, process, storage and L7 faults), drawn as annotations on every shoplab dashboard, and what they do to the platform.", "chaos").withChaos().add(
		r("Faults",
			stat("Active faults", "short", q("sum(shoplab_chaos_faults_active)", "active")),
			panel{title: "Active faults", kind: "table", w: 18, h: 4, targets: []target{
				q("max by (id, name, type, target) (shoplab_chaos_fault_active)", ""),
			}},
			ts("Active faults by type", "short",
				q("count by (type) (shoplab_chaos_fault_active)", "{{type}}")).wide(),
		),
		r("Effect",
			ts("Checkout status codes", "reqps",
				q(`sum by (code) (rate(shoplab_requests_total{unit="gateway", method="POST /api/v1/orders"}`+ri+"))", "{{code}}")).width(8),
			ts("Server errors per second by unit", "reqps",
				q("sum by (unit) (rate(shoplab_request_errors_total"+ri+"))", "{{unit}}")).width(8),
			ts("Failed calls by edge", "reqps",
				q(`sum by (unit, target, code) (rate(shoplab_client_call_duration_seconds_count{code!="OK"}`+ri+"))", "{{unit}} -> {{target}} {{code}}")).width(8),
			ts("Outbox backlog and consumer lag", "short",
				q("sum(shoplab_order_outbox_backlog)", "outbox backlog"),
				q("sum(shoplab_notification_consumer_lag)", "notification lag")),
			ts("Checkout p95", "s",
				q(`histogram_quantile(0.95, sum by (le) (rate(shoplab_request_duration_seconds_bucket{unit="gateway", method="POST /api/v1/orders"}`+ri+")))", "p95")),
		),
	)
}

// unitBoard is one unit's dashboard: RED by method where the unit serves
// requests, then the unit's own metrics.
func unitBoard(u string) board {
	sel := fmt.Sprintf(`{unit=%q}`, u)
	red := r("Requests (RED)",
		ts("Requests per second by method and code", "reqps",
			q("sum by (method, code) (rate(shoplab_requests_total"+sel+ri+"))", "{{method}} {{code}}")),
		ts("Server errors per second by method", "reqps",
			q("sum by (method, code) (rate(shoplab_request_errors_total"+sel+ri+"))", "{{method}} {{code}}")).
			desc("No line while the unit answers without server errors."),
		ts("p50, p95, p99 latency", "s",
			q("histogram_quantile(0.5, sum by (le) (rate(shoplab_request_duration_seconds_bucket"+sel+ri+")))", "p50"),
			q("histogram_quantile(0.95, sum by (le) (rate(shoplab_request_duration_seconds_bucket"+sel+ri+")))", "p95"),
			q("histogram_quantile(0.99, sum by (le) (rate(shoplab_request_duration_seconds_bucket"+sel+ri+")))", "p99")),
		ts("p95 latency by method", "s",
			q("histogram_quantile(0.95, sum by (method, le) (rate(shoplab_request_duration_seconds_bucket"+sel+ri+")))", "{{method}}")),
	)
	calls := ts("Outgoing calls: p95 by target and method", "s",
		q("histogram_quantile(0.95, sum by (target, method, le) (rate(shoplab_client_call_duration_seconds_bucket"+sel+ri+")))", "{{target}} {{method}}"))
	b := newBoard("shoplab-unit-"+u, "shoplab / unit / "+u, "The "+u+" unit's own metrics (unit=\""+u+"\").", "unit", u).withChaos()
	switch u {
	case "gateway":
		return b.add(red, r("Gateway",
			ts("Orders by outcome (replays apart)", "reqps",
				q("sum by (outcome, replayed) (rate(shoplab_gateway_orders_total"+ri+"))", "{{outcome}} replayed={{replayed}}")),
			calls,
		))
	case "user":
		return b.add(red, r("Users",
			ts("Registrations and authentications by result", "reqps",
				q("sum by (result) (rate(shoplab_user_registrations_total"+ri+"))", "register {{result}}"),
				q("sum by (result) (rate(shoplab_user_authentications_total"+ri+"))", "authenticate {{result}}")),
			ts("Password hash p95 (argon2id)", "s",
				q("histogram_quantile(0.95, sum by (le) (rate(shoplab_user_password_hash_seconds_bucket[5m])))", "p95")).
				desc("Hashes happen only on registration and login, so a 5m window: a short one is empty between them."),
		))
	case "product":
		return b.add(red, r("Catalog and stock",
			ts("Reservations, releases and searches by outcome", "reqps",
				q("sum by (outcome) (rate(shoplab_product_reservations_total"+ri+"))", "reserve {{outcome}}"),
				q("sum by (outcome) (rate(shoplab_product_releases_total"+ri+"))", "release {{outcome}}"),
				q("sum by (outcome) (rate(shoplab_product_searches_total"+ri+"))", "search {{outcome}}")),
			ts("Stock available", "short",
				q("sum(shoplab_product_stock_available_units)", "units")),
		))
	case "order":
		return b.add(red, r("Orders and the outbox",
			ts("Orders by outcome", "reqps",
				q("sum by (outcome) (rate(shoplab_order_orders_total"+ri+"))", "{{outcome}}")).width(8),
			ts("p95 per step of placing an order", "s",
				q("histogram_quantile(0.95, sum by (stage, le) (rate(shoplab_order_stage_duration_seconds_bucket"+ri+")))", "{{stage}}")).width(8),
			ts("Outbox backlog", "short",
				q("sum(shoplab_order_outbox_backlog)", "backlog")).width(8),
			ts("Outbox published and produce errors per second", "short",
				q("sum(rate(shoplab_order_outbox_published_total"+ri+"))", "published"),
				q("sum(rate(shoplab_order_kafka_produce_errors_total"+ri+"))", "produce errors")),
			calls,
		))
	case "payment":
		return b.add(red, r("Payments",
			ts("Charges by outcome", "reqps",
				q("sum by (outcome) (rate(shoplab_payments_total"+ri+"))", "{{outcome}}")),
			ts("Card processor p95 by operation and result", "s",
				q("histogram_quantile(0.95, sum by (operation, result, le) (rate(shoplab_payment_processor_duration_seconds_bucket"+ri+")))", "{{operation}} {{result}}")),
			ts("Payments settled by recovery", "short",
				q("sum(increase(shoplab_payment_recovered_total[5m]))", "recovered (5m)")),
		))
	case "notification":
		return b.add(r("Consumer and emails",
			ts("Records consumed and emails sent per second", "short",
				q("sum(rate(shoplab_notification_records_consumed_total"+ri+"))", "records consumed"),
				q("sum(rate(shoplab_notification_emails_sent_total"+ri+"))", "emails sent"),
				q("sum(rate(shoplab_notification_duplicates_skipped_total"+ri+"))", "duplicates skipped"),
				q("sum(rate(shoplab_notification_emails_skipped_total"+ri+"))", "no recipient")),
			ts("Consumer lag by partition", "short",
				q("sum by (topic, partition) (shoplab_notification_consumer_lag)", "{{topic}}/{{partition}}")),
			ts("Handler invocations, errors and bisections per second", "short",
				q("sum(rate(shoplab_notification_batches_invoked_total"+ri+"))", "invocations"),
				q("sum(rate(shoplab_notification_handler_errors_total"+ri+"))", "handler errors"),
				q("sum(rate(shoplab_notification_batch_bisections_total"+ri+"))", "bisections")),
			ts("Dead-lettered, invalid and unmarked records", "short",
				q("sum(shoplab_notification_dlq_records_total)", "DLQ"),
				q("sum(shoplab_notification_invalid_records_total)", "invalid"),
				q("sum(shoplab_notification_mark_sent_errors_total)", "sent-mark errors")),
		))
	default: // analytics
		return b.add(r("Window engine",
			ts("Events consumed per second", "short",
				q("sum(rate(shoplab_analytics_events_consumed_total"+ri+"))", "consumed")),
			ts("Windows closed, produced and archived (total)", "short",
				q("sum(shoplab_analytics_windows_closed_total)", "closed"),
				q("sum(shoplab_analytics_results_produced_total)", "produced"),
				q("sum(shoplab_analytics_windows_archived_total)", "archived")),
			ts("Late and duplicate events (total)", "short",
				q("sum(shoplab_analytics_late_events_total)", "late"),
				q("sum(shoplab_analytics_duplicates_dropped_total)", "duplicates")),
			ts("Watermark lag", "s",
				q("max(shoplab_analytics_watermark_lag_seconds)", "lag")),
		))
	}
}
