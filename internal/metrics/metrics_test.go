package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func setup(t *testing.T) (*Metrics, *httptest.Server) {
	t.Helper()
	m := New()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return m, srv
}

func TestExposition(t *testing.T) {
	t.Parallel()
	m, srv := setup(t)

	m.SetUp(true)
	m.ObserveRun("leeloo", "people", "succeeded", 1500*time.Millisecond, 12, 240, 200, 30, 10, 0)
	m.ObserveRun("leeloo", "people", "succeeded", 500*time.Millisecond, 3, 40, 0, 5, 35, 1)
	m.ObserveRun("textrequest", "payments", "failed", time.Second, 4, 0, 0, 0, 0, 0)
	m.ObserveRun("textrequest", "contacts", "skipped", 0, 0, 0, 0, 0, 0, 0)
	m.ObserveClient("textrequest", 100, 7, 3)
	m.ObserveClient("textrequest", 10, 1, 0)
	m.ObserveSkip("leeloo-conversations")
	m.ObservePanic("leeloo-orders")
	m.ObserveDeletions("leeloo", "orders", 3, 1, 0)
	m.ObserveDeletions("leeloo", "orders", 0, 0, 1)

	code, body := get(t, srv, "/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		`crmsync_stream_runs_total{source="leeloo",status="succeeded",stream="people"} 2`,
		`crmsync_stream_runs_total{source="textrequest",status="failed",stream="payments"} 1`,
		`crmsync_stream_runs_total{source="textrequest",status="skipped",stream="contacts"} 1`,
		`crmsync_stream_requests_total{source="leeloo",stream="people"} 15`,
		`crmsync_stream_rows_read_total{source="leeloo",stream="people"} 280`,
		`crmsync_stream_rows_total{outcome="inserted",source="leeloo",stream="people"} 200`,
		`crmsync_stream_rows_total{outcome="updated",source="leeloo",stream="people"} 35`,
		`crmsync_stream_rows_total{outcome="unchanged",source="leeloo",stream="people"} 45`,
		`crmsync_stream_rows_total{outcome="rejected",source="leeloo",stream="people"} 1`,
		`crmsync_stream_run_duration_seconds_count{source="leeloo",stream="people"} 2`,
		`crmsync_stream_run_duration_seconds_sum{source="leeloo",stream="people"} 2`,
		`crmsync_stream_last_run_failed{source="textrequest",stream="payments"} 1`,
		`crmsync_stream_last_run_failed{source="leeloo",stream="people"} 0`,
		`crmsync_source_requests_total{source="textrequest"} 110`,
		`crmsync_source_retries_total{source="textrequest"} 8`,
		`crmsync_source_throttled_total{source="textrequest"} 3`,
		`crmsync_job_skipped_total{job="leeloo-conversations"} 1`,
		`crmsync_job_panics_total{job="leeloo-orders"} 1`,
		`crmsync_stream_rows_marked_deleted_total{source="leeloo",stream="orders"} 3`,
		`crmsync_stream_rows_restored_total{source="leeloo",stream="orders"} 1`,
		`crmsync_delete_guard_held_total{source="leeloo",stream="orders"} 1`,
		`crmsync_scheduler_up 1`,
		`go_goroutines`,
	} {
		require.Contains(t, body, want)
	}
	// A skipped run neither counts rows nor sets health.
	require.NotContains(t, body, `crmsync_stream_requests_total{source="textrequest",stream="contacts"}`)
	require.NotContains(t, body, `crmsync_stream_last_success_timestamp_seconds{source="textrequest",stream="payments"}`)
	require.Regexp(t, `crmsync_stream_last_success_timestamp_seconds\{source="leeloo",stream="people"\} 1\.[0-9.e+]+`, body)
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	m, srv := setup(t)

	code, body := get(t, srv, "/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code, "down until the scheduler starts")
	require.Equal(t, "scheduler not running\n", body)

	m.SetUp(true)
	code, body = get(t, srv, "/healthz")
	require.Equal(t, http.StatusOK, code, "up with no run yet")
	require.Equal(t, "ok\n", body)

	m.ObserveRun("leeloo", "people", "failed", time.Second, 1, 0, 0, 0, 0, 0)
	m.ObserveRun("leeloo", "orders", "succeeded", time.Second, 1, 0, 0, 0, 0, 0)
	code, _ = get(t, srv, "/healthz")
	require.Equal(t, http.StatusOK, code, "one failing stream among healthy ones")

	m.ObserveRun("leeloo", "orders", "failed", time.Second, 1, 0, 0, 0, 0, 0)
	code, body = get(t, srv, "/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "the last run of every stream failed\n", body)

	m.ObserveRun("leeloo", "orders", "cancelled", time.Second, 1, 0, 0, 0, 0, 0)
	code, _ = get(t, srv, "/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code, "a cancelled run does not change health")

	m.ObserveRun("leeloo", "orders", "succeeded", time.Second, 1, 0, 0, 0, 0, 0)
	code, _ = get(t, srv, "/healthz")
	require.Equal(t, http.StatusOK, code, "recovers with the next success")

	m.SetUp(false)
	code, _ = get(t, srv, "/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code, "down while stopping")

	code, _ = get(t, srv, "/nope")
	require.Equal(t, http.StatusNotFound, code)
}

func TestSeparateRegistries(t *testing.T) {
	t.Parallel()

	// Two Metrics in one process must not collide (tests, several schedulers).
	a, b := New(), New()
	a.ObserveSkip("x")
	require.NotSame(t, a.Registry(), b.Registry())
}
