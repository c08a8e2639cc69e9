package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newPushRows() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "push_rows_total",
		Help: "Rows of push runs by outcome: sent, failed, unmatched (Calltouch found no lead), unknown (answer lost), skipped (unchanged, given up or unknown).",
	}, []string{"push", "outcome"})
}

// ObservePush records one finished push run: as a run of source "push" (runs,
// duration, requests, rows read, last success) and its rows by outcome.
func (m *Metrics) ObservePush(name, status string, duration time.Duration, requests, read, sent, failed, unmatched, unknown, skipped int) {
	m.ObserveRun("push", name, status, duration, requests, read, 0, 0, 0, 0)
	if status == "skipped" {
		return
	}
	for outcome, n := range map[string]int{"sent": sent, "failed": failed, "unmatched": unmatched, "unknown": unknown, "skipped": skipped} {
		m.pushRows.WithLabelValues(name, outcome).Add(float64(max(n, 0)))
	}
}
