// Package postgres loads stream batches into the PostgreSQL warehouse.
//
// Each [Loader.Load] runs in ONE transaction: the batch's rows for every table, its
// rejects and the partition's cursor commit together or not at all, so a crash never
// leaves the cursor ahead of the data and a re-read page is harmless.
//
// # How a table's rows are written
//
//  1. In Go: every value is converted for its column type (ints range-checked, numeric
//     precision checked, JSON validated) and NUL characters are removed from strings,
//     text arrays and JSON (literal NULs and the \u0000 escape). A row that cannot be
//     converted goes to sync.rejects. Rows are deduplicated by key, the last one wins.
//  2. Probe: one query finds which of the batch's keys already exist in the table
//     and, on a table with the _row_hash column (see Row hashes below), which of them
//     are stored with the batch row's hash: those rows are unchanged and go no
//     further. After a batch of nearly all new keys (a first sync) the probe is
//     skipped and every row COPYed in at once; it runs only if that COPY fails. On a
//     table without _row_hash it is also skipped after a batch of nearly all existing
//     keys (the steady state of incremental syncs): every row then takes step 4.
//  3. New keys are COPYed straight into the table. This is the bulk path PostgreSQL
//     is fastest at (multi-row inserts), so a first sync costs about a raw COPY.
//  4. Existing keys (with _row_hash: those whose hash differs) are COPYed into a
//     session-local temp staging table (no WAL, no indexes), then merged with one
//     INSERT … ON CONFLICT DO UPDATE … WHERE the values are distinct, whose SELECT
//     first drops the rows identical to what is stored (an anti-join on key and row
//     comparison; not needed for rows whose stored hash differs, which changed).
//     Unchanged rows are therefore never locked or rewritten: their xmin and
//     synced_at stay as they were, and no WAL is written for them.
//  5. Child tables (Table.ParentKey set): for every parent in the batch, child rows
//     the batch no longer lists are deleted.
//  6. The batch's rejects and cursor are written.
//
// Each step runs in a savepoint. When PostgreSQL refuses some rows with a data error
// (a value out of range, a NOT NULL or CHECK violation), the step is retried on halves
// of the rows until the refused ones are isolated; they go to sync.rejects with
// PostgreSQL's message and the rest of the batch loads.
//
// # Row hashes
//
// A table may have a bigint column _row_hash (migration 00004 adds it to the leeloo
// tables; the loader looks for it in the catalog, as for synced_at). The loader then
// stores in it, with every row it inserts or changes, a 64-bit hash of the row's
// converted values (xxhash64 of a canonical, type-tagged encoding, seeded with the
// column names and types; stable across processes). The probe sends the batch's keys
// and hashes, never its values, and only rows whose stored hash differs are sent and
// merged: an unchanged batch costs one primary-key lookup per row, less than half
// of COPYing it into an empty table (see BenchmarkLoad). What it means:
//   - A changed row whose new hash equals the stored one would be skipped: a 64-bit
//     collision, with probability 2^-64 per changed row. The merge compares values
//     (IS DISTINCT FROM) for the rows it gets, so a collision can only skip, never
//     corrupt.
//   - A row stored without a hash (written before the column existed) is compared in
//     SQL as before; if equal it keeps synced_at and only its hash is filled in (a
//     new row version, written once), so the next batch skips it. The same happens when equal values arrive in another
//     form (JSON with reordered keys): the hash is replaced, nothing else.
//   - An edit made to a row outside crmsync is not seen while the row's hash stays:
//     the API's unchanged values are not written back over it. Setting the row's
//     _row_hash to NULL (or the whole column, for a full re-check) makes the next
//     sync compare and restore it.
//   - A refused row's hash is never stored: the hash always describes stored values.
//
// The probe and the writes are separate statements, so another writer may change the
// table in between: a key deleted meanwhile is simply inserted again by the merge (an
// upsert), and a key inserted meanwhile makes the COPY fail with a unique violation,
// after which the table falls back to the merge for all of its rows.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/stream"
)

// BatchSize is the number of rows per Load the pipeline should aim for: large enough
// that per-transaction costs (a dozen round trips, a commit) vanish, small enough that
// a batch's memory and a failed batch's retry stay cheap. In this package's benchmark
// (BENCH_BATCH=2000…20000) 2,000-row batches lost a third of the throughput and
// 20,000-row batches gained nothing over 10,000.
const BatchSize = 10000

// Loader writes batches into PostgreSQL. It is safe for concurrent use by several
// streams.
type Loader struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// meta caches per-table facts read from the catalog (*tableMeta by table name).
	meta sync.Map
	// newShare remembers, per table name, the share of new keys in the table's last
	// batch (float64); see loadTable.
	newShare sync.Map
	// hookFunc, when set (tests only), runs inside the transaction after each step of
	// a table's load: "probed" (keys looked up, when the probe runs) and "copied" (rows COPYed, before the
	// merge). An error from it fails the load.
	hookFunc func(ctx context.Context, tx pgx.Tx, step string) error
}

// New returns a Loader writing through pool. A nil logger discards logs.
func New(pool *pgxpool.Pool, logger *slog.Logger) *Loader {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Loader{pool: pool, logger: logger}
}

// tableMeta holds what the loader learns about a table from the catalog.
type tableMeta struct {
	hasSyncedAt bool
	// hasRowHash: the table has the bigint _row_hash column (see the package doc).
	hasRowHash bool
}

// Load writes the batches' rows, rejects and cursors in one transaction and reports
// what it did. Rows PostgreSQL refuses are rejected, not fatal; any other error rolls
// back every batch (including on ctx cancellation) and is returned.
//
// Several batches (a group commit: the pipeline passes the small batches that waited
// while the previous load ran) have the effect of loading them one after another, in
// one transaction: rows are concatenated per table, so a key's latest row wins; each
// partition stores its last batch's cursor; a parent listed again by a later batch
// keeps the children of that later batch.
//
// Counts are per distinct key: a key repeated within the batches is written once, with
// its last values. Rejected includes the extractor's Batch.Rejects. NULsCleaned counts
// values (a string, an array element, a JSON document) NUL characters were removed from.
func (l *Loader) Load(ctx context.Context, runID int64, desc stream.Desc, batches ...stream.Batch) (stream.LoadResult, error) {
	if len(desc.Tables) == 0 {
		return stream.LoadResult{}, fmt.Errorf("load %s: stream has no tables", desc.ID())
	}
	if len(batches) == 0 {
		return stream.LoadResult{}, nil
	}
	for _, b := range batches {
		for name := range b.Rows {
			if _, ok := desc.Table(name); !ok {
				return stream.LoadResult{}, fmt.Errorf("load %s: batch has rows for unknown table %s", desc.ID(), name)
			}
		}
	}
	b, cursors := combine(desc, batches)
	var (
		res     stream.LoadResult
		rejects []reject
		plans   []*tablePlan
	)
	for _, rej := range b.Rejects {
		rejects = append(rejects, reject{table: rej.Table, reason: rej.Reason, payload: rej.Payload})
	}
	mainRows := len(b.Rows[desc.Tables[0].Name]) > 0
	for _, t := range desc.Tables {
		rows := b.Rows[t.Name]
		// A child table without rows still gets a plan when its parents are in the
		// batch: they list no children now, so their stored children are deleted.
		if len(rows) == 0 && (len(t.ParentKey) == 0 || !mainRows) {
			continue
		}
		p, err := prepare(t, rows)
		if err != nil {
			return stream.LoadResult{}, fmt.Errorf("load %s: %w", desc.ID(), err)
		}
		res.NULsCleaned += p.nulsCleaned
		rejects = append(rejects, p.rejects...)
		plans = append(plans, p)
	}
	// Parents of child tables: the main table's keys in this batch.
	var parents [][]string
	if len(plans) > 0 && plans[0].table.Name == desc.Tables[0].Name {
		parents = plans[0].keyTexts()
	}

	err := pgx.BeginTxFunc(ctx, l.pool, pgx.TxOptions{BeginQuery: beginIndexJoins}, func(tx pgx.Tx) error {
		// BeginTxFunc runs fn once, but keep the counts local so a failed attempt
		// reports nothing.
		var r stream.LoadResult
		var rej []reject
		for _, p := range plans {
			meta, err := l.tableMeta(ctx, tx, p.table.Name)
			if err != nil {
				return err
			}
			tr, trej, err := l.loadTable(ctx, tx, p, meta)
			if err != nil {
				return fmt.Errorf("table %s: %w", p.table.Name, err)
			}
			r.Add(tr)
			rej = append(rej, trej...)
			if len(p.table.ParentKey) > 0 && parents != nil {
				// The delete anti-joins the table against the batch's key arrays:
				// that wants a hash, not a nested loop over the arrays.
				if err := hashJoins(ctx, tx, true); err != nil {
					return err
				}
				n, err := deleteOrphans(ctx, tx, desc.Tables[0], p, parents)
				if err != nil {
					return fmt.Errorf("table %s: %w", p.table.Name, err)
				}
				if err := hashJoins(ctx, tx, false); err != nil {
					return err
				}
				r.Deleted += n
			}
		}
		all := append(slices.Clip(rejects), rej...)
		if err := writeRejects(ctx, tx, runID, desc, all); err != nil {
			return err
		}
		r.Rejected = len(all)
		if err := saveCursors(ctx, tx, desc, cursors); err != nil {
			return err
		}
		r.NULsCleaned = res.NULsCleaned
		res = r
		return nil
	})
	if err != nil {
		if len(batches) > 1 {
			return stream.LoadResult{}, fmt.Errorf("load %s: %d batches of %d rows: %w", desc.ID(), len(batches), b.Len(), err)
		}
		return stream.LoadResult{}, fmt.Errorf("load %s batch of %d rows: %w", desc.ID(), b.Len(), err)
	}
	return res, nil
}

// tableMeta returns the cached catalog facts of a table.
func (l *Loader) tableMeta(ctx context.Context, tx pgx.Tx, table string) (*tableMeta, error) {
	if m, ok := l.meta.Load(table); ok {
		return m.(*tableMeta), nil
	}
	m := &tableMeta{}
	err := tx.QueryRow(ctx, `select
			exists (select from pg_attribute
				where attrelid = $1::regclass and attname = 'synced_at' and not attisdropped),
			exists (select from pg_attribute
				where attrelid = $1::regclass and attname = $2 and atttypid = 'int8'::regtype and not attisdropped)`,
		table, rowHashColumn).Scan(&m.hasSyncedAt, &m.hasRowHash)
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", table, err)
	}
	l.meta.Store(table, m)
	return m, nil
}

// skipProbeBelow is the share of new keys in a table's last batch under which the
// next batch skips the probe. Measured on the benchmark: the probe costs about a fifth
// of an unchanged batch, and inserting a row through the merge about twice as much as
// through COPY.
const skipProbeBelow = 0.2

// copyAllAbove is the share of new keys in a table's last batch from which the next
// batch is COPYed straight into the table without a probe.
const copyAllAbove = 0.95

// isUniqueViolation reports whether err is a primary-key (unique) violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// counts is what one write step did.
type counts struct{ inserted, updated int64 }

// loadTable writes one table's prepared rows: probe, COPY the new ones, merge the rest.
func (l *Loader) loadTable(ctx context.Context, tx pgx.Tx, p *tablePlan, meta *tableMeta) (stream.LoadResult, []reject, error) {
	var (
		res      stream.LoadResult
		rejs     []reject
		bad      = func(i int, err error) { rejs = append(rejs, p.rejectRow(i, pgReason(err))) }
		mergeBad int // rows refused by the merge: they reached staging but are not unchanged
	)
	if len(p.rows) == 0 {
		return res, nil, nil
	}
	p.withHash = meta.hasRowHash
	start := time.Now()
	defer func() {
		l.logger.DebugContext(ctx, "table loaded", "table", p.table.Name, "rows", len(p.rows),
			"inserted", res.Inserted, "updated", res.Updated, "unchanged", res.Unchanged,
			"rejected", len(rejs), "duration", time.Since(start))
	}()
	defer func() {
		l.newShare.Store(p.table.Name, float64(res.Inserted)/float64(len(p.rows)))
	}()
	// The probe pays off when some keys are new and some exist: the new ones skip
	// staging and go in by COPY. At the two ends it is skipped, going by the table's
	// last batch. Nearly all existing (the steady state of incremental syncs): stage
	// every row and let the merge insert the few new ones. Nearly all new (a first
	// sync): COPY every row straight in, and fall back to the probe when a key turns
	// out to exist (the COPY then fails on the primary key and is rolled back).
	share, known := l.newShare.Load(p.table.Name)
	if known && share.(float64) >= copyAllAbove {
		n, err := p.copyAll(ctx, tx, meta.hasSyncedAt)
		if err == nil {
			res.Inserted = int(n)
			return res, nil, l.hook(ctx, tx, "copied")
		}
		if !isDataError(err) && !isUniqueViolation(err) {
			return res, nil, err
		}
		l.logger.DebugContext(ctx, "optimistic copy refused, probing", "table", p.table.Name, "error", err)
	}
	var fresh, old []int
	// compare: the staged rows may include unchanged ones, which the merge must drop
	// before the upsert (see merge).
	compare := true
	switch {
	case p.withHash:
		// The table keeps each row's hash: rows stored with the same hash are
		// unchanged and go no further. The probe is never skipped here: it is what
		// keeps unchanged rows from being sent.
		states, err := p.probeHashes(ctx, tx)
		if err != nil {
			return res, nil, err
		}
		compare = false
		for i, s := range states {
			switch s {
			case rowNew:
				fresh = append(fresh, i)
			case rowDiffers:
				old = append(old, i)
			case rowNoHash:
				old = append(old, i)
				compare = true
			default:
				res.Unchanged++
			}
		}
		l.logger.DebugContext(ctx, "probed keys and hashes", "table", p.table.Name, "new", len(fresh),
			"differ", len(old), "same", res.Unchanged, "duration", time.Since(start))
		if err := l.hook(ctx, tx, "probed"); err != nil {
			return res, nil, err
		}
	case known && share.(float64) < skipProbeBelow:
		old = make([]int, len(p.rows))
		for i := range old {
			old[i] = i
		}
	default:
		existing, err := p.probe(ctx, tx)
		if err != nil {
			return res, nil, err
		}
		l.logger.DebugContext(ctx, "probed keys", "table", p.table.Name, "duration", time.Since(start))
		if err := l.hook(ctx, tx, "probed"); err != nil {
			return res, nil, err
		}
		for i := range p.rows {
			if existing[i] {
				old = append(old, i)
			} else {
				fresh = append(fresh, i)
			}
		}
	}

	var now time.Time // the transaction's now(), for synced_at of COPYed rows
	if len(fresh) > 0 && meta.hasSyncedAt {
		if err := tx.QueryRow(ctx, "select now()").Scan(&now); err != nil {
			return res, nil, fmt.Errorf("read transaction time: %w", err)
		}
	}
	if len(fresh) > 0 {
		c, err := isolate(ctx, tx, fresh, func(tx pgx.Tx, idx []int) (counts, error) {
			n, err := p.copyInto(ctx, tx, p.target(), idx, meta.hasSyncedAt, now, false)
			return counts{inserted: n}, err
		}, bad)
		switch {
		case isUniqueViolation(err):
			// Another writer inserted one of these keys since the probe: merge them.
			l.logger.DebugContext(ctx, "concurrent insert, merging", "table", p.table.Name)
			compare = true
			old = append(old, fresh...)
			slices.Sort(old)
		case err != nil:
			return res, nil, err
		default:
			res.Inserted += int(c.inserted)
		}
	}

	if len(old) > 0 {
		stg, err := p.staging(ctx, tx)
		if err != nil {
			return res, nil, err
		}
		var copied []int
		_, err = isolate(ctx, tx, old, func(tx pgx.Tx, idx []int) (counts, error) {
			n, err := p.copyInto(ctx, tx, stg, idx, false, now, true)
			if err == nil {
				copied = append(copied, idx...)
			}
			return counts{inserted: n}, err
		}, bad)
		if err != nil {
			return res, nil, err
		}
		l.logger.DebugContext(ctx, "staged rows", "table", p.table.Name, "rows", len(copied), "duration", time.Since(start))
		if err := l.hook(ctx, tx, "copied"); err != nil {
			return res, nil, err
		}
		slices.Sort(copied)
		c, err := isolate(ctx, tx, copied, func(tx pgx.Tx, idx []int) (counts, error) {
			return p.merge(ctx, tx, stg, idx, len(idx) == len(copied), meta.hasSyncedAt, compare)
		}, func(i int, err error) { mergeBad++; bad(i, err) })
		if err != nil {
			return res, nil, err
		}
		res.Inserted += int(c.inserted)
		res.Updated += int(c.updated)
		same := len(copied) - int(c.inserted) - int(c.updated) - mergeBad
		res.Unchanged += same
		if p.withHash && same > 0 {
			// Staged for a differing hash but equal in SQL: store the hash, so the
			// next batch skips them.
			n, err := p.refreshHashes(ctx, tx, stg)
			if err != nil {
				return res, nil, err
			}
			l.logger.DebugContext(ctx, "refreshed row hashes", "table", p.table.Name, "rows", n)
		}
	} else if err := l.hook(ctx, tx, "copied"); err != nil {
		return res, nil, err
	}
	return res, rejs, nil
}

// hook runs hookFunc when a test set it.
func (l *Loader) hook(ctx context.Context, tx pgx.Tx, step string) error {
	if l.hookFunc == nil {
		return nil
	}
	return l.hookFunc(ctx, tx, step)
}

// isolate applies fn to idx inside a savepoint. When PostgreSQL refuses the rows with
// a data error, it rolls back and retries each half, down to single rows, which it
// passes to bad; the other rows are applied. Other errors are returned as they are.
func isolate(ctx context.Context, tx pgx.Tx, idx []int, fn func(tx pgx.Tx, idx []int) (counts, error), bad func(int, error)) (counts, error) {
	if len(idx) == 0 {
		return counts{}, nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return counts{}, fmt.Errorf("savepoint: %w", err)
	}
	c, err := fn(sp, idx)
	if err == nil {
		if err := sp.Commit(ctx); err != nil {
			return counts{}, fmt.Errorf("release savepoint: %w", err)
		}
		return c, nil
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return counts{}, fmt.Errorf("%w (and rollback to savepoint: %v)", err, rbErr)
	}
	if !isDataError(err) {
		return counts{}, err
	}
	if len(idx) == 1 {
		bad(idx[0], err)
		return counts{}, nil
	}
	mid := len(idx) / 2
	c1, err := isolate(ctx, tx, idx[:mid], fn, bad)
	if err != nil {
		return counts{}, err
	}
	c2, err := isolate(ctx, tx, idx[mid:], fn, bad)
	if err != nil {
		return counts{}, err
	}
	return counts{inserted: c1.inserted + c2.inserted, updated: c1.updated + c2.updated}, nil
}

// isDataError reports whether err is PostgreSQL refusing a value or a row (SQLSTATE
// class 22 data exception, class 23 integrity violation except unique_violation, or
// 54000 such as an index row too large): something a row carries, not a fault of
// the connection or the schema.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch {
	case pgErr.Code == "23505":
		return false
	case strings.HasPrefix(pgErr.Code, "22"), strings.HasPrefix(pgErr.Code, "23"), pgErr.Code == "54000":
		return true
	}
	return false
}

// pgReason renders PostgreSQL's refusal of a row as a reject reason.
func pgReason(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString("rejected by PostgreSQL: ")
	b.WriteString(pgErr.Message)
	if pgErr.ColumnName != "" {
		b.WriteString(" (column " + pgErr.ColumnName + ")")
	}
	if pgErr.Where != "" {
		b.WriteString(" (" + pgErr.Where + ")")
	}
	b.WriteString(" [SQLSTATE " + pgErr.Code + "]")
	return b.String()
}

// deleteOrphans deletes, for every parent key of the batch, the child rows whose key
// the batch does not list.
func deleteOrphans(ctx context.Context, tx pgx.Tx, parent stream.Table, child *tablePlan, parents [][]string) (int, error) {
	if len(child.table.ParentKey) != len(parent.Key) {
		return 0, fmt.Errorf("parent key %v does not match %s key %v", child.table.ParentKey, parent.Name, parent.Key)
	}
	var (
		args  []any
		pcols []string
		conds []string
		kcols []string
		kcond []string
	)
	for i, col := range child.table.ParentKey {
		typ, err := child.colTypeSQL(col)
		if err != nil {
			return 0, err
		}
		arr := make([]string, len(parents))
		for j, pk := range parents {
			arr[j] = pk[i]
		}
		args = append(args, arr)
		pcols = append(pcols, fmt.Sprintf("p%d", i))
		conds = append(conds, fmt.Sprintf("c.%s = p.p%d::%s", ident(col), i, typ))
	}
	keys := child.keyTexts()
	for i, col := range child.table.Key {
		typ, err := child.colTypeSQL(col)
		if err != nil {
			return 0, err
		}
		arr := make([]string, len(keys))
		for j, k := range keys {
			arr[j] = k[i]
		}
		args = append(args, arr)
		kcols = append(kcols, fmt.Sprintf("k%d", i))
		kcond = append(kcond, fmt.Sprintf("c.%s = k.k%d::%s", ident(col), i, typ))
	}
	sql := fmt.Sprintf(`delete from %s as c
		using (select distinct * from unnest(%s) as p(%s)) as p
		where %s
		  and not exists (select from unnest(%s) as k(%s) where %s)`,
		child.target().Sanitize(),
		placeholders(1, len(pcols), "text[]"), strings.Join(pcols, ", "),
		strings.Join(conds, " and "),
		placeholders(len(pcols)+1, len(kcols), "text[]"), strings.Join(kcols, ", "),
		strings.Join(kcond, " and "))
	tag, err := tx.Exec(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("delete removed child rows: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// placeholders renders "$from::typ, $from+1::typ, …" for n parameters.
func placeholders(from, n int, typ string) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d::%s", from+i, typ)
	}
	return strings.Join(ps, ", ")
}

// ident quotes a column name.
func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// reject is one record for sync.rejects.
type reject struct {
	table   string
	reason  string
	payload []byte
}

// writeRejects inserts rejects into sync.rejects.
func writeRejects(ctx context.Context, tx pgx.Tx, runID int64, desc stream.Desc, rejs []reject) error {
	if len(rejs) == 0 {
		return nil
	}
	var run *int64
	if runID > 0 {
		run = &runID
	}
	rows := make([][]any, len(rejs))
	for i, r := range rejs {
		payload, _ := cleanString(string(r.payload))
		var pj any
		if b, _ := cleanJSON(r.payload); json.Valid(b) {
			pj = b
		}
		reason, _ := cleanString(r.reason)
		rows[i] = []any{run, desc.Source, desc.Name, r.table, reason, payload, pj}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"sync", "rejects"},
		[]string{"run_id", "source", "stream", "table_name", "reason", "payload", "payload_json"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("write %d rejects: %w", len(rejs), err)
	}
	return nil
}
