package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/pgtest"
	"github.com/crmsync/crmsync/internal/stream"
)

const benchRows = 100_000

// benchTable is a message-like table: text id, a foreign key, a text body, two
// timestamps, a small text array and ~300 bytes of raw JSON.
func benchTable(name string) stream.Table {
	return stream.Table{
		Name: name, Key: []string{"id"},
		Columns: []stream.Column{
			{Name: "id", Type: "text"},
			{Name: "channel_id", Type: "bigint"},
			{Name: "body", Type: "text"},
			{Name: "created_at", Type: "timestamptz"},
			{Name: "updated_at", Type: "timestamptz"},
			{Name: "tags", Type: "text[]"},
			{Name: "raw", Type: "jsonb"},
		},
	}
}

// createBenchTable creates a message-like table.
func createBenchTable(ctx context.Context, pool *pgxpool.Pool, name string) error {
	_, err := pool.Exec(ctx, fmt.Sprintf(`
		create table %[1]s (id text primary key, channel_id bigint not null, body text,
			created_at timestamptz, updated_at timestamptz, tags text[], raw jsonb,
			synced_at timestamptz);
		create index on %[1]s (channel_id);`, name))
	return err
}

func benchData(variant string) []stream.Row {
	rows := make([]stream.Row, benchRows)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		body := strings.Repeat("hello there ", 14)[:20+i%141] + variant
		id := fmt.Sprintf("msg-%08d", i)
		raw, _ := json.Marshal(map[string]any{
			"id": id, "channel_id": i % 500, "body": body, "direction": "inbound",
			"created_at": base.Add(time.Duration(i) * time.Second), "status": "delivered",
			"meta": map[string]any{"client": "web", "attempt": 1},
		})
		rows[i] = stream.Row{id, int64(i % 500), body, base.Add(time.Duration(i) * time.Second),
			base.Add(time.Duration(i) * time.Minute), []string{"inbox", "sms"}, json.RawMessage(raw)}
	}
	return rows
}

// BenchmarkLoad measures, against one server in one run: raw COPY into an empty indexed
// table (the reference), the peer (per-row INSERT … ON CONFLICT DO UPDATE sent in pgx
// batches, CloudQuery's PostgreSQL write path) and this loader, each on 100,000
// message-like rows in batches of BatchSize (BENCH_BATCH overrides it).
//
// The variants are interleaved batch by batch (raw COPY of batch i, our and the peer's
// insert of batch i, then the re-applies of batch i), so that load from other
// processes on the machine falls on all of them alike; each variant's rate is its rows
// over the sum of its batch times. Order matters a little: a variant running right
// after one that wrote a lot competes with its background flushing, so each of ours
// follows a lighter step. Between the insert and the re-apply of a batch the
// tables are vacuumed, as autovacuum does after a large insert long before the next
// sync (autovacuum_vacuum_insert_threshold): otherwise the first re-read pays for
// setting hint bits on fresh rows, a one-off cost the raw COPY reference never pays.
// Each variant's client CPU (this process's, while it ran) is logged too: the server's
// share does not show in it, so it is what the loader's own Go code costs. The last
// figures put the rates against a source at its published rate limits.
//
//	go test -run '^$' -bench Load -benchtime 3x ./loaders/postgres
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewDB(b)
	batchSize := BatchSize
	if v, err := strconv.Atoi(os.Getenv("BENCH_BATCH")); err == nil && v > 0 {
		batchSize = v
	}
	var logger *slog.Logger
	if os.Getenv("BENCH_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	data, changed := benchData(""), benchData("!")
	cols := append(benchTable("x").Columns, stream.Column{Name: "synced_at"})
	colNames := make([]string, len(cols))
	for i, c := range cols {
		colNames[i] = c.Name
	}
	variants := []string{"raw_copy", "peer_new", "peer_unchanged", "ours_new", "ours_unchanged", "ours_changed"}
	spent := map[string]time.Duration{}
	cpu := map[string]time.Duration{} // this process's CPU time (the loader's side, not the server's)
	timeIt := func(name string, fn func() error) {
		start, cpu0 := time.Now(), processCPU(b)
		if err := fn(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		spent[name] += time.Since(start)
		cpu[name] += processCPU(b) - cpu0
	}
	exec := func(sql string) {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}

	for n := 0; n < b.N; n++ {
		tag := fmt.Sprintf("_%d", n)
		rawTable, peerTable, oursTable := "bench_raw"+tag, "bench_peer"+tag, "bench_ours"+tag
		for _, t := range []string{rawTable, peerTable, oursTable} {
			if err := createBenchTable(ctx, pool, t); err != nil {
				b.Fatal(err)
			}
		}
		peerSQL := fmt.Sprintf(`insert into %s (id, channel_id, body, created_at, updated_at, tags, raw, synced_at)
			values ($1, $2, $3, $4, $5, $6, $7, now())
			on conflict (id) do update set channel_id = excluded.channel_id, body = excluded.body,
				created_at = excluded.created_at, updated_at = excluded.updated_at, tags = excluded.tags,
				raw = excluded.raw, synced_at = excluded.synced_at`, peerTable)
		peer := func(rows []stream.Row) func() error {
			return func() error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					batch := &pgx.Batch{}
					for _, r := range rows {
						batch.Queue(peerSQL, r[0], r[1], r[2], r[3], r[4], r[5], []byte(r[6].(json.RawMessage)))
					}
					return tx.SendBatch(ctx, batch).Close()
				})
			}
		}
		desc := stream.Desc{Source: "bench", Name: "messages", Tables: []stream.Table{benchTable(oursTable)}}
		l := New(pool, logger)
		page := 0
		load := func(rows []stream.Row, want func(stream.LoadResult) int) func() error {
			return func() error {
				page++ // each batch advances the cursor, as a real sync's do
				res, err := l.Load(ctx, 0, desc, stream.Batch{
					Rows:   map[string][]stream.Row{oursTable: rows},
					Cursor: json.RawMessage(fmt.Sprintf(`{"page":%d}`, page)),
				})
				if err == nil && (want(res) != len(rows) || res.Rejected != 0) {
					err = fmt.Errorf("unexpected counts %+v", res)
				}
				return err
			}
		}
		inserted := func(r stream.LoadResult) int { return r.Inserted }
		unchanged := func(r stream.LoadResult) int { return r.Unchanged }
		updated := func(r stream.LoadResult) int { return r.Updated }

		for i := 0; i < benchRows; i += batchSize {
			rows, changedRows := data[i:min(i+batchSize, benchRows)], changed[i:min(i+batchSize, benchRows)]
			timeIt("raw_copy", func() error {
				now := time.Now()
				_, err := pool.CopyFrom(ctx, pgx.Identifier{rawTable}, colNames,
					pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return append(rows[i][:7:7], now), nil }))
				return err
			})
			timeIt("ours_new", load(rows, inserted))
			timeIt("peer_new", peer(rows))
			exec("vacuum " + peerTable)
			exec("vacuum " + oursTable)
			timeIt("ours_unchanged", load(rows, unchanged))
			timeIt("peer_unchanged", peer(rows))
			exec("vacuum " + oursTable)
			timeIt("ours_changed", load(changedRows, updated))
		}
		for _, t := range []string{rawTable, peerTable, oursTable} {
			exec("drop table " + t)
		}
	}

	rate := map[string]float64{}
	for _, k := range variants {
		rate[k] = float64(benchRows*b.N) / spent[k].Seconds()
	}
	ref := rate["raw_copy"]
	cpuPerRow := func(k string) float64 { return float64(cpu[k].Microseconds()) / float64(benchRows*b.N) }
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d rows × %d, batches of %d:\n", benchRows, b.N, batchSize)
	for _, k := range variants {
		b.ReportMetric(rate[k], k+"_rows/s")
		fmt.Fprintf(&sb, "  %-15s %9.0f rows/s  %.2f× raw COPY; client CPU %.2f µs/row, %.2f× raw COPY's\n",
			k, rate[k], rate[k]/ref, cpuPerRow(k), cpuPerRow(k)/cpuPerRow("raw_copy"))
		if k != "raw_copy" {
			b.ReportMetric(rate[k]/ref, k+"/copy")
		}
		b.ReportMetric(cpuPerRow(k), k+"_cpu_µs/row")
	}
	b.ReportMetric(rate["ours_new"]/rate["peer_new"], "new_vs_peer")
	b.ReportMetric(rate["ours_unchanged"]/rate["peer_unchanged"], "unchanged_vs_peer")
	fmt.Fprintf(&sb, "  ours vs peer: new %.1f×, unchanged %.1f×\n",
		rate["ours_new"]/rate["peer_new"], rate["ours_unchanged"]/rate["peer_unchanged"])
	// What the loader's speed means under the published rate limits, where a source
	// delivers a few hundred records a second (sourceRate errs on the loader's side):
	// the share of a batch's fetch time its load takes, overlapping the next fetch.
	const sourceRate = 1000.0
	fmt.Fprintf(&sb, "  at %.0f records/s from the API, loading takes of a batch's fetch time:", sourceRate)
	for _, k := range []string{"ours_new", "ours_unchanged", "ours_changed"} {
		share := sourceRate / rate[k]
		b.ReportMetric(100*share, k+"_%_of_fetch")
		fmt.Fprintf(&sb, " %s %.1f %%", strings.TrimPrefix(k, "ours_"), 100*share)
	}
	b.Log(sb.String())
}

// processCPU returns the CPU time this process has used (user and system).
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPrepare measures the Go side of a load: converting, cleaning and
// deduplicating one batch.
func BenchmarkPrepare(b *testing.B) {
	data := benchData("")[:BatchSize]
	t := benchTable("m")
	info := declaredInfo(t)
	for b.Loop() {
		if _, err := prepare(t, info, data); err != nil {
			b.Fatal(err)
		}
	}
}
