// Package metrics exposes what `crmsync schedule` is doing to Prometheus (/metrics) and
// to liveness probes (/healthz).
//
// Metrics live in the package's own prometheus.Registry (not the global default), so
// tests and several schedulers in one process never collide. The CLI records each
// stream run with [Metrics.ObserveRun] after a job's pass, each API client's counters
// with [Metrics.ObserveClient], and the scheduler's skips and panics with
// [Metrics.ObserveSkip] and [Metrics.ObservePanic].
//
// Series (all prefixed crmsync_):
//
//	stream_runs_total{source,stream,status}                  runs by outcome (succeeded, failed, cancelled, skipped)
//	stream_run_duration_seconds{source,stream}               histogram of run durations
//	stream_requests_total{source,stream}                     API requests made by the stream's runs
//	stream_rows_read_total{source,stream}                    records received from the API
//	stream_rows_total{source,stream,outcome}                 rows inserted, updated, unchanged, rejected
//	stream_last_success_timestamp_seconds{source,stream}     end of the last successful run (unix seconds)
//	stream_last_run_failed{source,stream}                    1 when the stream's last finished run failed
//	stream_rows_marked_deleted_total{source,stream}          rows complete passes marked deleted (children included)
//	stream_rows_restored_total{source,stream}                rows marked deleted that came back
//	delete_guard_held_total{source,stream}                   complete passes CRMSYNC_DELETE_GUARD held back (nothing marked)
//	source_requests_total{source}                            HTTP attempts, retries included
//	source_retries_total{source}                             attempts that were retries
//	source_throttled_total{source}                           429 answers received
//	push_rows_total{push,outcome}                            rows of push runs: sent, failed, unmatched, unknown, skipped
//	job_skipped_total{job}                                   scheduled runs skipped: the previous one was still running
//	job_panics_total{job}                                    runs that panicked (recovered)
//	scheduler_up                                             1 while the scheduler runs
//
// plus the Go runtime and process collectors. A useful alert: time() -
// crmsync_stream_last_success_timestamp_seconds > 2 × the stream's schedule interval.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "crmsync"

// A push run is observed as a stream run of source "push" (ObserveRun) and by
// ObservePush.

// Run outcomes, as stored in sync.runs (stream.RunStatus values).
const (
	statusSucceeded = "succeeded"
	statusFailed    = "failed"
)

// Metrics holds the registry and every series. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	runs          *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	requests      *prometheus.CounterVec
	rowsRead      *prometheus.CounterVec
	rows          *prometheus.CounterVec
	lastSuccess   *prometheus.GaugeVec
	lastFailed    *prometheus.GaugeVec
	marked        *prometheus.CounterVec
	restored      *prometheus.CounterVec
	guardHeld     *prometheus.CounterVec
	srcRequests   *prometheus.CounterVec
	srcRetries    *prometheus.CounterVec
	srcThrottled  *prometheus.CounterVec
	jobSkipped    *prometheus.CounterVec
	jobPanics     *prometheus.CounterVec
	schedulerUp   prometheus.Gauge
	pushRows      *prometheus.CounterVec
	mu            sync.Mutex
	up            bool
	lastRunFailed map[string]bool // "source.stream" → the last finished run failed
}

// New returns Metrics with every series registered in a fresh registry, the
// scheduler marked down (call SetUp(true) once it starts).
func New() *Metrics {
	m := &Metrics{
		reg:           prometheus.NewRegistry(),
		lastRunFailed: map[string]bool{},
	}
	streamLabels := []string{"source", "stream"}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "stream_runs_total",
		Help: "Stream runs by outcome (succeeded, failed, cancelled, skipped).",
	}, []string{"source", "stream", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "stream_run_duration_seconds",
		Help: "Duration of stream runs.",
		// From a quick incremental pass to a long backfill.
		Buckets: []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200},
	}, streamLabels)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "stream_requests_total",
		Help: "API requests made by the stream's runs, retries included.",
	}, streamLabels)
	m.rowsRead = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "stream_rows_read_total",
		Help: "Records received from the API.",
	}, streamLabels)
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "stream_rows_total",
		Help: "Rows written by outcome: inserted, updated, unchanged (compared, not rewritten), rejected (in sync.rejects).",
	}, []string{"source", "stream", "outcome"})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "stream_last_success_timestamp_seconds",
		Help: "Unix time at which the stream's last successful run finished.",
	}, streamLabels)
	m.lastFailed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "stream_last_run_failed",
		Help: "1 when the stream's last finished run failed, else 0 (skipped runs do not count).",
	}, streamLabels)
	m.marked = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "stream_rows_marked_deleted_total",
		Help: "Rows that complete passes did not see and marked deleted (deleted_at set), child rows included.",
	}, streamLabels)
	m.restored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "stream_rows_restored_total",
		Help: "Rows marked deleted that the source listed again (deleted_at cleared).",
	}, streamLabels)
	m.guardHeld = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "delete_guard_held_total",
		Help: "Complete passes that would have marked more than CRMSYNC_DELETE_GUARD of their list's live rows and marked nothing (sync.runs.deletions_held says why).",
	}, streamLabels)
	m.srcRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "source_requests_total",
		Help: "HTTP attempts sent to the source's API, retries included.",
	}, []string{"source"})
	m.srcRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "source_retries_total",
		Help: "HTTP attempts that were retries (after a 429, a 5xx or a transport error).",
	}, []string{"source"})
	m.srcThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "source_throttled_total",
		Help: "429 Too Many Requests answers received from the source.",
	}, []string{"source"})
	m.jobSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "job_skipped_total",
		Help: "Scheduled runs skipped because the job's previous run was still running.",
	}, []string{"job"})
	m.jobPanics = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "job_panics_total",
		Help: "Job runs that panicked; the scheduler recovered and kept going.",
	}, []string{"job"})
	m.schedulerUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "scheduler_up",
		Help: "1 while the scheduler is running.",
	})
	m.pushRows = newPushRows()
	m.reg.MustRegister(
		m.pushRows,
		m.runs, m.duration, m.requests, m.rowsRead, m.rows, m.lastSuccess, m.lastFailed,
		m.marked, m.restored, m.guardHeld,
		m.srcRequests, m.srcRetries, m.srcThrottled, m.jobSkipped, m.jobPanics, m.schedulerUp,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry, for callers that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRun records one finished stream run. status is a sync.runs status
// (succeeded, failed, cancelled, skipped); the counts are the run's totals. A
// succeeded run sets the stream's last-success time to now.
func (m *Metrics) ObserveRun(source, stream, status string, duration time.Duration, requests, rowsRead, inserted, updated, unchanged, rejected int) {
	m.runs.WithLabelValues(source, stream, status).Inc()
	if status == "skipped" {
		// Another process ran the stream: nothing was done here, and the stream's
		// health is whatever that process reports.
		return
	}
	m.duration.WithLabelValues(source, stream).Observe(duration.Seconds())
	m.requests.WithLabelValues(source, stream).Add(float64(max(requests, 0)))
	m.rowsRead.WithLabelValues(source, stream).Add(float64(max(rowsRead, 0)))
	for outcome, n := range map[string]int{"inserted": inserted, "updated": updated, "unchanged": unchanged, "rejected": rejected} {
		m.rows.WithLabelValues(source, stream, outcome).Add(float64(max(n, 0)))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch status {
	case statusSucceeded:
		m.lastSuccess.WithLabelValues(source, stream).SetToCurrentTime()
		m.lastFailed.WithLabelValues(source, stream).Set(0)
		m.lastRunFailed[source+"."+stream] = false
	case statusFailed:
		m.lastFailed.WithLabelValues(source, stream).Set(1)
		m.lastRunFailed[source+"."+stream] = true
	}
	// cancelled: the stream committed what it read and continues next time; it is
	// neither healthy nor failed, so the last known state stands.
}

// ObserveDeletions records what a stream run did about deleted records: rows marked,
// rows restored, and complete passes the delete guard held back.
func (m *Metrics) ObserveDeletions(source, stream string, marked, restored, held int) {
	m.marked.WithLabelValues(source, stream).Add(float64(max(marked, 0)))
	m.restored.WithLabelValues(source, stream).Add(float64(max(restored, 0)))
	m.guardHeld.WithLabelValues(source, stream).Add(float64(max(held, 0)))
}

// ObserveClient adds an API client's counters to the source's totals. The values are
// increments: pass the difference of apiclient.Client.Stats() before and after a run
// (or the totals of a client used for one run only).
func (m *Metrics) ObserveClient(source string, requests, retries, throttled int64) {
	m.srcRequests.WithLabelValues(source).Add(float64(max(requests, 0)))
	m.srcRetries.WithLabelValues(source).Add(float64(max(retries, 0)))
	m.srcThrottled.WithLabelValues(source).Add(float64(max(throttled, 0)))
}

// ObserveSkip counts a scheduled run skipped because the job was still running
// (scheduler.Config.OnSkip).
func (m *Metrics) ObserveSkip(job string) { m.jobSkipped.WithLabelValues(job).Inc() }

// ObservePanic counts a job run that panicked (scheduler.Config.OnPanic).
func (m *Metrics) ObservePanic(job string) { m.jobPanics.WithLabelValues(job).Inc() }

// SetUp marks the scheduler as running (true) or stopping (false); /healthz answers
// 503 while it is down.
func (m *Metrics) SetUp(up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.up = up
	if up {
		m.schedulerUp.Set(1)
	} else {
		m.schedulerUp.Set(0)
	}
}

// Healthy reports whether /healthz answers 200, and why not: the scheduler must be up,
// and at least one stream's last finished run must not have failed (a process whose
// every stream fails — a revoked key, a dead database — is worth restarting or paging
// about; one failing stream among many is not).
func (m *Metrics) Healthy() (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.up {
		return false, "scheduler not running"
	}
	if len(m.lastRunFailed) == 0 {
		return true, "ok"
	}
	for _, failed := range m.lastRunFailed {
		if !failed {
			return true, "ok"
		}
	}
	return false, "the last run of every stream failed"
}

// Handler serves /metrics (Prometheus text or OpenMetrics) and /healthz (200 "ok", or
// 503 with the reason). Other paths are 404.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg,
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, reason := m.Healthy()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(reason + "\n"))
	})
	return mux
}
