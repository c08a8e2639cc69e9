package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
)

// These benchmarks run the crmsync binary as an operator does, one process per run,
// and read its peak resident set size: what a container's memory limit sees. The binary
// is built from this tree (as `make build` does), or taken from CRMSYNC_BENCH_BIN to
// measure another build (an older commit, for a before/after figure).
//
// The peak is the child's VmHWM, read from /proc every 10 ms while it runs. The child's
// rusage (ru_maxrss) is no good: Go starts a child with vfork, and Linux then counts the
// parent's resident set into the child's maxrss at its exec. The CPU time is the child's
// rusage (user + system), which has no such problem.

// envBenchBin names a crmsync binary to measure instead of one built from this tree.
const envBenchBin = "CRMSYNC_BENCH_BIN"

var (
	benchBinOnce sync.Once
	benchBin     string
	benchBinErr  error
)

// crmsyncBinary returns the binary to measure, building it once per test process.
func crmsyncBinary(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv(envBenchBin); bin != "" {
		return bin
	}
	benchBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crmsync-bench-")
		if err != nil {
			benchBinErr = err
			return
		}
		benchBin = filepath.Join(dir, "crmsync")
		cmd := exec.Command("go", "build", "-trimpath", "-o", benchBin, "github.com/crmsync/crmsync/cmd/sync")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			benchBinErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(b, benchBinErr)
	return benchBin
}

// childRun is what one crmsync process did.
type childRun struct {
	code int
	rss  uint64        // peak resident set size, bytes
	cpu  time.Duration // user + system
	wall time.Duration
	out  string // stdout and stderr
}

// runCrmsync runs bin with args and only the given environment (plus PATH, HOME and
// the collector's settings GOGC and GOMEMLIMIT when set, to measure a deployment's), and
// measures it.
func runCrmsync(b *testing.B, bin string, env map[string]string, args ...string) childRun {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	require.NoError(b, cmd.Start())
	var (
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	status := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if b, err := os.ReadFile(status); err == nil {
				if m := vmHWMLine.FindSubmatch(b); m != nil {
					kb, _ := strconv.ParseUint(string(m[1]), 10, 64)
					peak = max(peak, kb<<10)
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	err := cmd.Wait()
	close(done)
	wg.Wait()
	r := childRun{rss: peak, wall: time.Since(start), out: out.String()}
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(b, err, &exit, "crmsync %s", strings.Join(args, " "))
	}
	r.code = cmd.ProcessState.ExitCode()
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r
}

var vmHWMLine = regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`)

// simEnv is the environment that points crmsync at a simulator at base (Leeloo and
// Text Request, no rate limits) and at the database dsn.
func simEnv(base, dsn string) map[string]string {
	return map[string]string{
		"DATABASE_URL":           dsn,
		"LEELOO_BASE_URL":        base,
		"LEELOO_AUTH_TOKEN":      "demo-leeloo-token",
		"LEELOO_RATE_LIMIT":      "off",
		"TEXTREQUEST_BASE_URL":   base + "/api/v3",
		"TEXTREQUEST_API_KEY":    "demo-textrequest-key",
		"TEXTREQUEST_RATE_LIMIT": "off",
	}
}

// runsSince returns the highest sync.runs id and the rows read by runs after after.
func runsSince(b *testing.B, dsn string, after int64) (last int64, rows int64) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(b, err)
	defer conn.Close(ctx)
	require.NoError(b, conn.QueryRow(ctx,
		`select coalesce(max(id), 0), coalesce(sum(rows_read) filter (where id > $1), 0) from sync.runs`, after).Scan(&last, &rows))
	return last, rows
}

// benchScales reads a comma-separated list of scales from the variable name, else def.
func benchScales(b *testing.B, name string, def ...int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err, "%s=%q", name, v)
		out = append(out, n)
	}
	return out
}

// BenchmarkRunRSS: peak RSS of a first `crmsync run` (every default stream, into an
// empty database it migrates) and of a second run with nothing changed, at simulator
// scales 10, 100 and 400 (BENCH_RSS_SCALES=10,100 to choose). Target: the second run
// within 10 % of the first; neither grows with the scale. At scale 400 leeloo.messages
// has 120,000 chats, each with a cursor.
func BenchmarkRunRSS(b *testing.B) {
	bin := crmsyncBinary(b)
	for _, scale := range benchScales(b, "BENCH_RSS_SCALES", 10, 100, 400) {
		b.Run(fmt.Sprintf("scale=%d", scale), func(b *testing.B) {
			base := startChildSimulator(b, fmt.Sprintf("--scale %d", scale))
			var first, second childRun
			for b.Loop() {
				dsn := pgtest.EmptyURL(b)
				env := simEnv(base, dsn)
				first = runCrmsync(b, bin, env, "run")
				require.Equal(b, exitOK, first.code, first.out)
				after, rows := runsSince(b, dsn, 0)
				second = runCrmsync(b, bin, env, "run")
				require.Equal(b, exitOK, second.code, second.out)
				_, rows2 := runsSince(b, dsn, after)
				b.Logf("scale %d: first run %d rows in %s, peak RSS %.1f MiB, CPU %s; second run %d rows in %s, peak RSS %.1f MiB, CPU %s; second/first %.2f",
					scale, rows, first.wall.Round(time.Millisecond), mib(first.rss), first.cpu.Round(time.Millisecond),
					rows2, second.wall.Round(time.Millisecond), mib(second.rss), second.cpu.Round(time.Millisecond),
					float64(second.rss)/float64(first.rss))
			}
			b.ReportMetric(mib(first.rss), "MiB-rss-first")
			b.ReportMetric(mib(second.rss), "MiB-rss-second")
			b.ReportMetric(float64(second.rss)/float64(first.rss), "second/first")
		})
	}
}

// BenchmarkHugeAnswer: peak RSS of `crmsync run --stream leeloo.users` against a server
// whose users list is one huge answer: above the client's 64 MiB cap (100 MiB, with and
// without Content-Length: the stream fails with "answer too large", exit 1, the request
// not repeated), or below it (40 MiB: one user whose 40 MiB name is stored; one whose
// 40 MiB id is an object, rejected, sync.rejects keeping an excerpt of it). Target:
// under 150 MB each.
func BenchmarkHugeAnswer(b *testing.B) {
	bin := crmsyncBinary(b)
	const user = `","email":"huge@example.com","role":"ADMIN","createdAt":"2026-10-02T00:00Z","updatedAt":"2026-10-31T00:00Z"}],` +
		`"meta":{"limit":50,"offset":0,"filteredCount":1,"totalCount":1},"status":1}`
	cases := []struct {
		name       string
		size       int64
		length     bool   // send Content-Length
		head, tail string // the body is head, filler, tail
		wantCode   int
		wantRows   int // users stored
		wantReject int
	}{
		{"100MiB-with-length", 100 << 20, true, `{"data":[{"id":"1","name":"`, user, exitFailed, 0, 0},
		{"100MiB-chunked", 100 << 20, false, `{"data":[{"id":"1","name":"`, user, exitFailed, 0, 0},
		{"40MiB-name", 40 << 20, true, `{"data":[{"id":"1","name":"`, user, exitOK, 1, 0},
		{"40MiB-rejected", 40 << 20, true, `{"data":[{"name":"x","id":{"huge":"`, `"}` + user[1:], exitOK, 0, 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var requests atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v2/users" {
					http.NotFound(w, r)
					return
				}
				requests.Add(1)
				writeHuge(w, c.size, c.length, c.head, c.tail)
			}))
			b.Cleanup(srv.Close)
			var run childRun
			for b.Loop() {
				requests.Store(0)
				dsn := pgtest.URL(b)
				env := map[string]string{"DATABASE_URL": dsn, "LEELOO_BASE_URL": srv.URL, "LEELOO_AUTH_TOKEN": "demo-leeloo-token", "LEELOO_RATE_LIMIT": "off"}
				run = runCrmsync(b, bin, env, "run", "--no-migrate", "--stream", "leeloo.users")
				require.Equal(b, c.wantCode, run.code, run.out)
				if c.wantCode != exitOK {
					require.Contains(b, run.out, "answer too large")
					require.EqualValues(b, 1, requests.Load(), "an answer above the cap is not asked again")
				}
				users, rejects, longest := hugeOutcome(b, dsn)
				require.Equal(b, []int{c.wantRows, c.wantReject}, []int{users, rejects}, "users stored, records rejected")
				require.LessOrEqual(b, longest, 70<<10, "a reject keeps an excerpt, not the record")
				b.Logf("%s: exit %d in %s, %d request(s), peak RSS %.1f MiB, CPU %s; %d user(s) stored, %d reject(s), longest payload kept %d bytes",
					c.name, run.code, run.wall.Round(time.Millisecond), requests.Load(), mib(run.rss), run.cpu.Round(time.Millisecond), users, rejects, longest)
			}
			b.ReportMetric(mib(run.rss), "MiB-rss")
		})
	}
}

// writeHuge writes a JSON answer of size bytes: head, a run of "a", tail.
func writeHuge(w http.ResponseWriter, size int64, length bool, head, tail string) {
	w.Header().Set("Content-Type", "application/json")
	if length {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, head)
	chunk := []byte(strings.Repeat("a", 64<<10))
	for left := size - int64(len(head)+len(tail)); left > 0; {
		n := min(left, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return // the client hung up (it stops reading at its cap)
		}
		left -= n
	}
	_, _ = io.WriteString(w, tail)
}

// hugeOutcome returns the users stored, the records rejected and the longest reject
// payload kept.
func hugeOutcome(b *testing.B, dsn string) (users, rejects, longest int) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(b, err)
	defer conn.Close(ctx)
	require.NoError(b, conn.QueryRow(ctx, `select (select count(*) from leeloo.users),
		count(*), coalesce(max(octet_length(payload)), 0) from sync.rejects`).Scan(&users, &rejects, &longest))
	return users, rejects, longest
}

// BenchmarkFirstSyncUnderLimits (issue 15): a first `crmsync run` at simulator scale
// 10 with 100 ms latency per request and each source's budget at 20 requests a second:
// its wall time (bound by the budget), its peak RSS and its CPU seconds per 100,000
// rows read (user + system of the crmsync process ÷ sync.runs.rows_read). Scale 30
// (peak RSS target 64 MiB) takes three times as long: BENCH_LIMITS_SCALES=10,30.
func BenchmarkFirstSyncUnderLimits(b *testing.B) {
	bin := crmsyncBinary(b)
	for _, scale := range benchScales(b, "BENCH_LIMITS_SCALES", 10) {
		b.Run(fmt.Sprintf("scale=%d", scale), func(b *testing.B) {
			base := startChildSimulator(b, fmt.Sprintf("--scale %d --latency 100ms", scale))
			var run childRun
			var rows int64
			for b.Loop() {
				dsn := pgtest.EmptyURL(b)
				env := simEnv(base, dsn)
				env["LEELOO_RATE_LIMIT"], env["TEXTREQUEST_RATE_LIMIT"] = "20/1s", "20/1s"
				run = runCrmsync(b, bin, env, "run")
				require.Equal(b, exitOK, run.code, run.out)
				_, rows = runsSince(b, dsn, 0)
				b.Logf("scale %d under limits (100 ms latency, 20 requests/s per source): %d rows in %s, peak RSS %.1f MiB, CPU %s (%.2f s per 100,000 rows)",
					scale, rows, run.wall.Round(time.Millisecond), mib(run.rss), run.cpu.Round(time.Millisecond), run.cpu.Seconds()*1e5/float64(rows))
			}
			b.ReportMetric(run.wall.Seconds(), "wall-s")
			b.ReportMetric(mib(run.rss), "MiB-rss")
			b.ReportMetric(run.cpu.Seconds()*1e5/float64(rows), "cpu-s/100k-rows")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
