package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
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
// table (the reference), the peer (per-row INSERT … ON CONFLICT DO UPDATE in pgx
// batches of 10,000, CloudQuery's PostgreSQL write path) and this loader, each on
// 100,000 message-like rows in batches of BatchSize.
//
//	go test -run '^$' -bench . -benchtime 1x ./loaders/postgres
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewDB(b)
	// BENCH_BATCH overrides the rows per Load (and per COPY / peer batch) to compare sizes.
	batchSize := BatchSize
	if v, err := strconv.Atoi(os.Getenv("BENCH_BATCH")); err == nil && v > 0 {
		batchSize = v
	}
	data, changed := benchData(""), benchData("!")
	cols := append(benchTable("x").Columns, stream.Column{Name: "synced_at"})
	colNames := make([]string, len(cols))
	for i, c := range cols {
		colNames[i] = c.Name
	}
	rate := map[string]float64{}
	timeIt := func(name string, fn func() error) {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		rate[name] += benchRows / time.Since(start).Seconds()
	}
	inBatches := func(rows []stream.Row, fn func([]stream.Row) error) error {
		for i := 0; i < len(rows); i += batchSize {
			if err := fn(rows[i:min(i+batchSize, len(rows))]); err != nil {
				return err
			}
		}
		return nil
	}

	for n := 0; n < b.N; n++ {
		tag := fmt.Sprintf("_%d", n)
		for _, t := range []string{"raw_copy", "peer", "ours"} {
			if err := createBenchTable(ctx, pool, "bench_"+t+tag); err != nil {
				b.Fatal(err)
			}
		}

		timeIt("raw_copy", func() error {
			return inBatches(data, func(rows []stream.Row) error {
				now := time.Now()
				_, err := pool.CopyFrom(ctx, pgx.Identifier{"bench_raw_copy" + tag}, colNames,
					pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return append(rows[i][:7:7], now), nil }))
				return err
			})
		})

		peer := func() error {
			sql := fmt.Sprintf(`insert into bench_peer%s (id, channel_id, body, created_at, updated_at, tags, raw, synced_at)
				values ($1, $2, $3, $4, $5, $6, $7, now())
				on conflict (id) do update set channel_id = excluded.channel_id, body = excluded.body,
					created_at = excluded.created_at, updated_at = excluded.updated_at, tags = excluded.tags,
					raw = excluded.raw, synced_at = excluded.synced_at`, tag)
			return inBatches(data, func(rows []stream.Row) error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					batch := &pgx.Batch{}
					for _, r := range rows {
						batch.Queue(sql, r[0], r[1], r[2], r[3], r[4], r[5], []byte(r[6].(json.RawMessage)))
					}
					return tx.SendBatch(ctx, batch).Close()
				})
			})
		}
		// Between passes the table is vacuumed, as autovacuum does after a large insert
		// (autovacuum_vacuum_insert_threshold) long before the next sync: otherwise the
		// first re-read pays for setting hint bits on every fresh row, a one-off cost
		// that the raw COPY reference never pays.
		vacuum := func(table string) {
			if _, err := pool.Exec(ctx, "vacuum analyze "+table); err != nil {
				b.Fatal(err)
			}
		}
		timeIt("peer_new", peer)
		vacuum("bench_peer" + tag)
		timeIt("peer_unchanged", peer)

		var logger *slog.Logger
		if os.Getenv("BENCH_DEBUG") != "" {
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		l := New(pool, logger)
		desc := stream.Desc{Source: "bench", Name: "messages", Tables: []stream.Table{benchTable("bench_ours" + tag)}}
		load := func(rows []stream.Row, check func(stream.LoadResult) error) func() error {
			return func() error {
				return inBatches(rows, func(rows []stream.Row) error {
					res, err := l.Load(ctx, 0, desc, stream.Batch{
						Rows:   map[string][]stream.Row{desc.Tables[0].Name: rows},
						Cursor: json.RawMessage(`{"page":1}`),
					})
					if err != nil {
						return err
					}
					return check(res)
				})
			}
		}
		expect := func(field string, get func(stream.LoadResult) int) func(stream.LoadResult) error {
			return func(r stream.LoadResult) error {
				if get(r) != batchSize || r.Rejected != 0 {
					return fmt.Errorf("want %d %s, got %+v", batchSize, field, r)
				}
				return nil
			}
		}
		timeIt("ours_new", load(data, expect("inserted", func(r stream.LoadResult) int { return r.Inserted })))
		vacuum("bench_ours" + tag)
		timeIt("ours_unchanged", load(data, expect("unchanged", func(r stream.LoadResult) int { return r.Unchanged })))
		vacuum("bench_ours" + tag)
		timeIt("ours_changed", load(changed, expect("updated", func(r stream.LoadResult) int { return r.Updated })))

		for _, t := range []string{"raw_copy", "peer", "ours"} {
			if _, err := pool.Exec(ctx, "drop table bench_"+t+tag); err != nil {
				b.Fatal(err)
			}
		}
	}

	for k := range rate {
		rate[k] /= float64(b.N)
	}
	ref := rate["raw_copy"]
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d rows, batches of %d:\n", benchRows, batchSize)
	for _, k := range []string{"raw_copy", "peer_new", "peer_unchanged", "ours_new", "ours_unchanged", "ours_changed"} {
		b.ReportMetric(rate[k], k+"_rows/s")
		fmt.Fprintf(&sb, "  %-15s %9.0f rows/s  %.2f× raw COPY\n", k, rate[k], rate[k]/ref)
		if k != "raw_copy" {
			b.ReportMetric(rate[k]/ref, k+"/copy")
		}
	}
	b.ReportMetric(rate["ours_new"]/rate["peer_new"], "new_vs_peer")
	b.ReportMetric(rate["ours_unchanged"]/rate["peer_unchanged"], "unchanged_vs_peer")
	fmt.Fprintf(&sb, "  ours vs peer: new %.1f×, unchanged %.1f×\n",
		rate["ours_new"]/rate["peer_new"], rate["ours_unchanged"]/rate["peer_unchanged"])
	b.Log(sb.String())
}

// BenchmarkPrepare measures the Go side of a load: converting, cleaning and
// deduplicating one batch.
func BenchmarkPrepare(b *testing.B) {
	data := benchData("")[:BatchSize]
	t := benchTable("m")
	for b.Loop() {
		if _, err := prepare(t, data); err != nil {
			b.Fatal(err)
		}
	}
}
