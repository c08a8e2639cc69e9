package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/simulator"
	"github.com/crmsync/crmsync/internal/stream"
)

// envSimulatorChild makes the test binary serve `crmsync simulate` (its arguments in
// the variable, space-separated) instead of running tests: the memory benchmark then
// measures crmsync alone, not the simulator sharing its heap.
const envSimulatorChild = "CRMSYNC_TEST_SIMULATOR_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(envCLIChild); args != "" {
		ctx, stop := signalContext()
		code := Run(ctx, strings.Fields(args), io.Discard, os.Stderr)
		stop()
		if hwm, err := vmHWM(); err == nil {
			fmt.Printf("%s %d\n", hwmMarker, hwm)
		}
		os.Exit(code)
	}
	if args := os.Getenv(envSimulatorChild); args != "" {
		ctx, stop := signalContext()
		defer stop()
		os.Exit(Run(ctx, append([]string{"simulate"}, strings.Fields(args)...), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startChildSimulator runs the simulator in a child process and returns its base URL.
func startChildSimulator(b *testing.B, args string) string {
	url, _ := startChildSimulatorPID(b, args)
	return url
}

// startChildSimulatorPID is startChildSimulator that also returns the child's pid.
func startChildSimulatorPID(b *testing.B, args string) (string, int) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSimulatorChild+"=--addr 127.0.0.1:0 "+args)
	out, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	re := regexp.MustCompile(`on (http://\S+) \(seed`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go func() { // keep the pipe drained
				for sc.Scan() {
				}
			}()
			return m[1], cmd.Process.Pid
		}
	}
	b.Fatalf("the simulator child printed no address: %v", sc.Err())
	return "", 0
}

// benchEngine builds the real parts against base (a simulator URL) and a fresh
// migrated database.
func benchEngine(b *testing.B, base string, extra ...string) (*engine, []pipeline.Job) {
	b.Helper()
	env := with(simEnv(base, pgtest.URL(b)), extra...)
	e, err := ParseEnv(func(k string) string { return env[k] })
	require.NoError(b, err)
	sources, err := buildSources(e, discardLogger(), clientTuning{minBackoff: time.Millisecond, maxBackoff: 50 * time.Millisecond})
	require.NoError(b, err)
	eng, err := openEngine(context.Background(), e, discardLogger(), sources, e.Concurrency, true)
	require.NoError(b, err)
	b.Cleanup(eng.close)
	jobs, err := pipeline.Select(extractorsOf(sources), pipeline.Selection{})
	require.NoError(b, err)
	return eng, jobs
}

type totals struct {
	requests, read, written, inserted, unchanged int
	byStream                                     map[string]int // requests
}

func sum(res *pipeline.Result) totals {
	t := totals{byStream: map[string]int{}}
	for _, r := range res.Streams {
		t.requests += r.Requests
		t.read += r.Read
		t.inserted += r.Loaded.Inserted
		t.unchanged += r.Loaded.Unchanged
		t.written += r.Loaded.Inserted + r.Loaded.Updated + r.Loaded.Deleted
		t.byStream[r.ID()] = r.Requests
	}
	return t
}

func mustSync(b *testing.B, eng *engine, jobs []pipeline.Job, o syncOptions) (*pipeline.Result, time.Duration) {
	b.Helper()
	o.jobs = jobs
	start := time.Now()
	res, err := eng.sync(context.Background(), o)
	require.NoError(b, err)
	for _, r := range res.Streams {
		require.Equal(b, stream.RunSucceeded, r.Status, r.ID())
	}
	return res, time.Since(start)
}

// BenchmarkFullSync: an end-to-end full sync at scale 10 without latency, against raw
// COPY of the same rows into empty indexed copies of the tables, in the same run. A
// third figure is the ceiling the API side sets: the same sync with a loader that
// writes nothing (fetching, decoding and the pipeline only). On a small machine the
// simulator, PostgreSQL and crmsync share the CPU, and the ~10,900 requests of a scale
// 10 sync cost more than the loading does.
func BenchmarkFullSync(b *testing.B) {
	base, simPID := startChildSimulatorPID(b, "--scale 10")
	var e2eRate, copyRate, extractRate float64
	var commits, batches int
	for b.Loop() {
		eng, jobs := benchEngine(b, base)
		cpu0 := readCPU(simPID)
		res, wall := mustSync(b, eng, jobs, syncOptions{})
		cpu := readCPU(simPID).since(cpu0)
		t := sum(res)
		e2eRate = float64(t.inserted) / wall.Seconds()
		commits, batches = 0, 0
		for _, r := range res.Streams {
			commits += r.Commits
			batches += r.Batches
		}

		b.StopTimer()
		// The reference: the same rows (collected from the extractors, deduplicated by
		// key as the loader does), COPYed into empty copies with the same indexes.
		rows := collect(b, jobs)
		cpuCopy0 := readCPU(simPID)
		copied, copyWall := rawCopy(b, eng.pool, jobs, rows)
		cpuCopy := readCPU(simPID).since(cpuCopy0)
		copyRate = float64(copied) / copyWall.Seconds()
		// The ceiling: the same sync into a loader that only counts.
		xeng, xjobs := benchEngine(b, base)
		cpuX0 := readCPU(simPID)
		start := time.Now()
		xres, err := pipeline.Run(context.Background(), pipeline.Plan{Jobs: xjobs, Loader: countingLoader{}, Checkpoints: xeng.store,
			Config: pipeline.Config{Concurrency: xeng.concurrency}})
		require.NoError(b, err)
		extractRate = float64(sum(xres).inserted) / time.Since(start).Seconds()
		cpuX := readCPU(simPID).since(cpuX0)
		b.Logf("full sync: %d rows inserted in %s (%.0f rows/s, %d requests, %d batches in %d transactions); raw COPY of %d rows: %s (%.0f rows/s); ratio %.2f; extraction alone (no writes) %.0f rows/s = %.2f of raw COPY",
			t.inserted, wall.Round(time.Millisecond), e2eRate, t.requests, batches, commits, copied, copyWall.Round(time.Millisecond), copyRate, e2eRate/copyRate,
			extractRate, extractRate/copyRate)
		b.Logf("CPU time on %d cores: full sync %s; raw COPY %s; extraction alone %s", runtime.NumCPU(), cpu, cpuCopy, cpuX)
		b.StartTimer()
	}
	b.ReportMetric(e2eRate, "rows/s")
	b.ReportMetric(copyRate, "copy-rows/s")
	b.ReportMetric(e2eRate/copyRate, "ratio-to-copy")
	b.ReportMetric(extractRate/copyRate, "extract-only-ratio")
	b.ReportMetric(float64(commits), "transactions")
}

// countingLoader writes nothing: the extraction-only reference of BenchmarkFullSync.
type countingLoader struct{}

func (countingLoader) Load(_ context.Context, _ int64, _ stream.Desc, bs ...stream.Batch) (stream.LoadResult, error) {
	n := 0
	for _, b := range bs {
		n += b.Len()
	}
	return stream.LoadResult{Inserted: n}, nil
}

// collect runs every job's extractor (no loader) and keeps every batch's rows per table.
func collect(b *testing.B, jobs []pipeline.Job) map[string][]stream.Row {
	b.Helper()
	out := map[string][]stream.Row{}
	for _, j := range jobs {
		ch := make(chan stream.Batch, 16)
		var err error
		go func() {
			defer close(ch)
			err = j.Extractor.Extract(context.Background(), stream.Request{Stream: j.Desc, State: stream.State{}, Started: time.Now()}, ch)
		}()
		for bt := range ch {
			for table, rows := range bt.Rows {
				out[table] = append(out[table], rows...)
			}
		}
		require.NoError(b, err, j.Desc.ID())
	}
	return out
}

// rawCopy COPYs rows into empty copies of the tables (LIKE … INCLUDING ALL: same
// keys and indexes) and returns the rows copied and the time the COPYs took.
func rawCopy(b *testing.B, pool *pgxpool.Pool, jobs []pipeline.Job, rows map[string][]stream.Row) (int, time.Duration) {
	b.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, "create schema if not exists bench")
	require.NoError(b, err)
	tables := map[string]stream.Table{}
	for _, j := range jobs {
		for _, t := range j.Desc.Tables {
			tables[t.Name] = t
		}
	}
	type prepared struct {
		ident pgx.Identifier
		cols  []string
		rows  [][]any
	}
	var work []prepared
	for name, t := range tables {
		rs := dedupe(t, rows[name])
		if len(rs) == 0 {
			continue
		}
		copyName := "bench." + strings.ReplaceAll(name, ".", "_")
		_, err := pool.Exec(ctx, fmt.Sprintf("drop table if exists %s; create table %s (like %s including all)", copyName, copyName, name))
		require.NoError(b, err)
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = c.Name
		}
		vals := make([][]any, len(rs))
		for i, r := range rs {
			vals[i] = copyValues(t, r)
		}
		work = append(work, prepared{pgx.Identifier{"bench", strings.ReplaceAll(name, ".", "_")}, cols, vals})
	}
	n := 0
	start := time.Now()
	for _, w := range work {
		c, err := pool.CopyFrom(ctx, w.ident, w.cols, pgx.CopyFromRows(w.rows))
		require.NoError(b, err, w.ident.Sanitize())
		n += int(c)
	}
	return n, time.Since(start)
}

func dedupe(t stream.Table, rows []stream.Row) []stream.Row {
	idx := make([]int, len(t.Key))
	for i, k := range t.Key {
		for j, c := range t.Columns {
			if c.Name == k {
				idx[i] = j
			}
		}
	}
	seen := map[string]int{}
	var out []stream.Row
	for _, r := range rows {
		k := ""
		for _, i := range idx {
			k += fmt.Sprint(r[i]) + "\x00"
		}
		if at, ok := seen[k]; ok {
			out[at] = r
			continue
		}
		seen[k] = len(out)
		out = append(out, r)
	}
	return out
}

// copyValues converts the few value kinds binary COPY does not take as they come.
func copyValues(t stream.Table, r stream.Row) []any {
	out := make([]any, len(r))
	for i, v := range r {
		typ := t.Columns[i].Type
		switch x := v.(type) {
		case string:
			if strings.HasPrefix(typ, "numeric") {
				var n pgtype.Numeric
				if err := n.Scan(x); err == nil {
					v = n
				}
			} else if typ == "jsonb" {
				v = []byte(x)
			}
		case float64:
			if strings.HasPrefix(typ, "numeric") {
				var n pgtype.Numeric
				if err := n.Scan(fmt.Sprint(x)); err == nil {
					v = n
				}
			}
		case json.RawMessage:
			v = []byte(x)
		case int:
			v = int64(x)
		}
		out[i] = v
	}
	return out
}

// BenchmarkLatency: 100 ms per request, no rate limit: wall time against the
// sequential sum (requests × 100 ms).
func BenchmarkLatency(b *testing.B) {
	const latency = 100 * time.Millisecond
	sim := simulator.New(simulator.Options{Faults: simulator.Faults{Latency: latency}})
	srv := httptest.NewServer(sim.Handler())
	b.Cleanup(srv.Close)
	var speedup float64
	var conc int
	for b.Loop() {
		eng, jobs := benchEngine(b, srv.URL, "LEELOO_CONCURRENCY", "4", "TEXTREQUEST_CONCURRENCY", "3")
		conc = eng.concurrency
		res, wall := mustSync(b, eng, jobs, syncOptions{})
		t := sum(res)
		sequential := time.Duration(t.requests) * latency
		speedup = sequential.Seconds() / wall.Seconds()
		b.Logf("latency %s: %d requests, sequential %s, wall %s: speed-up %.1f with %d streams at once (target ≥ %.1f)",
			latency, t.requests, sequential, wall.Round(time.Millisecond), speedup, conc, 0.8*float64(conc))
	}
	b.ReportMetric(speedup, "speedup")
	b.ReportMetric(speedup/float64(conc), "speedup/concurrency")
}

// BenchmarkRateLimited: the Text Request streams under a budget of R per window:
// wall time against the minimum (requests ÷ R windows), and the 429s received.
func BenchmarkRateLimited(b *testing.B) {
	const r, window = 50, time.Second
	sim := simulator.New(simulator.Options{Faults: simulator.Faults{TextRequestRateLimit: r, RateWindow: window}})
	srv := httptest.NewServer(sim.Handler())
	b.Cleanup(srv.Close)
	var ratio float64
	var throttled int
	for b.Loop() {
		eng, jobs := benchEngine(b, srv.URL, "LEELOO_AUTH_TOKEN", "", "TEXTREQUEST_RATE_LIMIT", fmt.Sprintf("%d/%s", r, window))
		sim.ResetStats()
		res, wall := mustSync(b, eng, jobs, syncOptions{})
		t := sum(res)
		minimum := time.Duration(float64(t.requests) / r * float64(window))
		ratio = wall.Seconds() / minimum.Seconds()
		st := sim.Stats()
		throttled = st.RateLimited[simulator.APITextRequest]
		b.Logf("rate limit %d/%s: %d requests, minimum %s, wall %s (%.2f× the minimum), %d answered 429, max %d in one window",
			r, window, t.requests, minimum.Round(time.Millisecond), wall.Round(time.Millisecond), ratio, throttled, st.MaxInWindow[simulator.APITextRequest])
	}
	b.ReportMetric(ratio, "wall/minimum")
	b.ReportMetric(float64(throttled), "429s")
}

// BenchmarkIncrementalNoChange: after a full sync, a run with nothing changed: its
// requests against the full sync's, and the rows it wrote.
func BenchmarkIncrementalNoChange(b *testing.B) {
	sim := simulator.New(simulator.Options{Scale: 2})
	srv := httptest.NewServer(sim.Handler())
	b.Cleanup(srv.Close)
	var share float64
	var written, writtenNonSnapshot int
	for b.Loop() {
		b.StopTimer()
		eng, jobs := benchEngine(b, srv.URL)
		full, _ := mustSync(b, eng, jobs, syncOptions{})
		b.StartTimer()
		inc, _ := mustSync(b, eng, jobs, syncOptions{})
		f, i := sum(full), sum(inc)
		share = float64(i.requests) / float64(f.requests)
		written, writtenNonSnapshot = i.written, 0
		for _, r := range inc.Streams {
			for _, j := range jobs {
				if j.Desc.ID() == r.ID() && j.Desc.Mode != stream.ModeSnapshot {
					writtenNonSnapshot += r.Loaded.Inserted + r.Loaded.Updated + r.Loaded.Deleted
				}
			}
		}
		var per []string
		for id, n := range i.byStream {
			per = append(per, fmt.Sprintf("%s %d/%d", id, n, f.byStream[id]))
		}
		sort.Strings(per)
		b.Logf("incremental with nothing changed: %d requests vs %d for the full sync (%.1f%%); rows written %d (%d outside snapshot streams); per stream (incremental/full): %s",
			i.requests, f.requests, 100*share, written, writtenNonSnapshot, strings.Join(per, ", "))
	}
	b.ReportMetric(100*share, "%requests-of-full")
	b.ReportMetric(float64(writtenNonSnapshot), "rows-written")
}

// BenchmarkPeakMemory: crmsync's memory during a full sync at scales 1, 10 and 30,
// with the simulator in a child process so only crmsync's memory is measured.
//
// The figure is the peak live heap: the memory the sync holds (pages in
// flight, commit groups, buffers, caches), which is what must not grow with the data.
// It is sampled by forcing a collection every 20 ms and reading /gc/heap/live:bytes
// right after it, so each sample is the live set at that moment. The runtime's own
// cycles are no substitute: a scale-1 sync sees few of them, and what a
// cycle marks includes everything allocated while it runs (the more concurrent work,
// the more), so their peaks measure allocation rate as much as memory held.
//
// Logged besides: the peak of heap objects (live and garbage not yet swept) during the
// measured run, and the peak RSS of the same sync run as a separate `crmsync run`
// process (its maxrss): what a container limit sees, including the heap headroom
// GOGC gives, which a short sync never grows into.
//
// Growth 1→10 is the figure; 10→30 is the check that nothing grows with the
// data once pages and batches are full at both scales.
//
// A peak is a maximum over samples, and a maximum grows with the number of samples even
// where the memory held does not: the streams' in-flight pages, groups and loads rise
// and fall independently, and the more samples, the likelier one catches them high
// together. A scale-1 sync lasts ~0.3 s (~15 samples), scale 10 ~3 s (~140). So scale 1
// is also synced again, into fresh databases, until it has as many samples as scale 10,
// and the peak over all of them is reported beside the single sync's: %growth-matched
// compares the two scales over the same number of samples.
func BenchmarkPeakMemory(b *testing.B) {
	type peak struct {
		heapPeak
		rss uint64
	}
	scales := []int{1, 10, 30}
	peaks := map[int]peak{}
	var matched heapPeak // scale 1 over as many samples as scale 10
	for b.Loop() {
		for _, scale := range scales {
			base := startChildSimulator(b, fmt.Sprintf("--scale %d", scale))
			eng, jobs := benchEngine(b, base)
			profile := ""
			if dir := os.Getenv(envHeapProfile); dir != "" {
				runtime.MemProfileRate = 4096
				profile = filepath.Join(dir, fmt.Sprintf("heap-scale%d.pprof", scale))
			}
			runtime.GC()
			stop := sampleHeap(profile)
			res, wall := mustSync(b, eng, jobs, syncOptions{})
			p := stop()
			eng.close()
			rss := childRunRSS(b, base)
			peaks[scale] = peak{p, rss}
			b.Logf("scale %d: %d rows in %s; peak live heap %.1f MiB (%.1f MiB before the sync; %d samples); peak heap objects %.1f MiB; peak RSS of crmsync run %.1f MiB",
				scale, sum(res).read, wall.Round(time.Millisecond), mib(p.live), mib(p.base), p.samples, mib(p.objects), mib(rss))
		}
		matched = peaks[1].heapPeak
		syncs1 := 1
		base := startChildSimulator(b, "--scale 1")
		for matched.samples < peaks[10].samples {
			eng, jobs := benchEngine(b, base)
			runtime.GC()
			stop := sampleHeap("")
			mustSync(b, eng, jobs, syncOptions{})
			p := stop()
			eng.close()
			matched.live = max(matched.live, p.live)
			matched.samples += p.samples
			syncs1++
		}
		b.Logf("scale 1 over %d syncs (%d samples, scale 10 had %d): peak live heap %.1f MiB",
			syncs1, matched.samples, peaks[10].samples, mib(matched.live))
	}
	growth := func(from, to int, of func(peak) uint64) float64 {
		return 100 * (float64(of(peaks[to]))/float64(of(peaks[from])) - 1)
	}
	live := func(p peak) uint64 { return p.live }
	rss := func(p peak) uint64 { return p.rss }
	b.ReportMetric(mib(peaks[1].live), "MiB-live-scale1")
	b.ReportMetric(mib(peaks[10].live), "MiB-live-scale10")
	b.ReportMetric(mib(peaks[30].live), "MiB-live-scale30")
	b.ReportMetric(growth(1, 10, live), "%growth")
	b.ReportMetric(100*(float64(peaks[10].live)/float64(matched.live)-1), "%growth-matched")
	b.ReportMetric(mib(matched.live), "MiB-live-scale1-matched")
	b.ReportMetric(growth(10, 30, live), "%growth-10to30")
	b.ReportMetric(mib(peaks[10].objects), "MiB-heap-scale10")
	b.ReportMetric(mib(peaks[1].rss), "MiB-rss-scale1")
	b.ReportMetric(mib(peaks[10].rss), "MiB-rss-scale10")
	b.ReportMetric(growth(1, 10, rss), "%rss-growth")
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// envCLIChild makes the test binary run the crmsync command line (its arguments in
// the variable, space-separated) instead of running tests.
const envCLIChild = "CRMSYNC_TEST_CLI_ARGS"

// childRunRSS runs `crmsync run` against base (a simulator URL) in a child process, into
// an empty database it migrates first, as an operator's first run does, and returns the
// child's peak resident set size as it reports it (VmHWM). The rusage of a child is no
// good here: Go starts it with vfork, so its ru_maxrss includes the benchmark process's
// own resident set at that moment.
func childRunRSS(b *testing.B, base string) uint64 {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCLIChild+"=run",
		"DATABASE_URL="+pgtest.EmptyURL(b),
		"LEELOO_BASE_URL="+base, "LEELOO_AUTH_TOKEN=demo-leeloo-token", "LEELOO_RATE_LIMIT=off",
		"TEXTREQUEST_BASE_URL="+base+"/api/v3", "TEXTREQUEST_API_KEY=demo-textrequest-key", "TEXTREQUEST_RATE_LIMIT=off")
	out, err := cmd.CombinedOutput()
	require.NoError(b, err, "crmsync run in a child process:\n%s", out)
	m := regexp.MustCompile(hwmMarker + ` (\d+)`).FindSubmatch(out)
	require.NotNil(b, m, "the child reported no peak RSS:\n%s", out)
	kb, err := strconv.ParseUint(string(m[1]), 10, 64)
	require.NoError(b, err)
	return kb << 10
}

// hwmMarker starts the line a CLI child prints with its peak RSS in KiB.
const hwmMarker = "crmsync-test-vmhwm-kib:"

// vmHWM reads this process's peak resident set size in KiB from /proc (Linux).
func vmHWM() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0, errors.New("no VmHWM in /proc/self/status")
	}
	return strconv.ParseUint(string(m[1]), 10, 64)
}

// envHeapProfile names a directory: BenchmarkPeakMemory then writes a heap profile
// (pprof, sampled every 4 KiB) each time the live heap reaches a new peak, as
// heap-scale<N>.pprof, for `go tool pprof -sample_index=inuse_space -top`. The profile
// is the live set of the forced collection that found the peak (the profile's own
// buffers show up in later samples: use it to see what is held, not to measure).
const envHeapProfile = "CRMSYNC_BENCH_HEAPPROFILE"

// heapPeak is what sampleHeap saw.
type heapPeak struct {
	// objects is the peak of heap objects (live and not yet collected).
	objects uint64
	// live is the peak live heap right after a forced collection; base is its first
	// sample, before the sync.
	live, base uint64
	samples    int
}

// sampleHeap forces a collection every 20 ms until the returned stop is called, and
// returns the peaks. With a profile path it writes a heap profile there whenever the
// live heap passes its last profiled peak by 2 %.
func sampleHeap(profile string) func() heapPeak {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(samples)
	p := heapPeak{base: samples[1].Value.Uint64()}
	done := make(chan struct{})
	finished := make(chan struct{})
	var objects atomic.Uint64
	go func() { // heap objects peak just before each collection: sample it more often
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > objects.Load() {
				objects.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var profiled uint64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			runtime.GC()
			metrics.Read(samples)
			live := samples[1].Value.Uint64()
			p.live = max(p.live, live)
			p.samples++
			if profile != "" && live > profiled+profiled/50 {
				profiled = live
				writeHeapProfile(profile)
			}
		}
	}()
	return func() heapPeak {
		close(done)
		<-finished
		p.objects = objects.Load()
		return p
	}
}

// writeHeapProfile writes the heap profile to path; a failure only loses the profile.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
