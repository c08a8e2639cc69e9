// Package postgres loads stream batches into the PostgreSQL warehouse.
//
// One [Loader.Load] is one transaction: a batch's rows for every table, its rejects and
// its cursor commit together or not at all, so a crash never leaves a cursor ahead of
// the data, and a page read again is harmless. One batch goes, top to bottom:
//
//  1. Prepare, in Go, before the transaction (plan.go): the batches of a group commit
//     are combined into one (group.go); each table's rows are converted for the column
//     types the table has in the catalog (catalog.go, convert.go: integers range-checked,
//     numeric precision checked), text PostgreSQL cannot store is repaired (NULs removed,
//     invalid UTF-8 replaced; repair.go), and rows are deduplicated by key, the last one
//     winning. A row that cannot be converted becomes a reject.
//  2. Begin, and check that the run still holds its stream's lease
//     (checkpoint.HoldsLease), which no other run can take over until this commits.
//  3. Stage each table: COPY its rows into a temp table of the session (no WAL, no
//     indexes, emptied at commit).
//  4. Merge each table: one INSERT … SELECT … ON CONFLICT (key) DO UPDATE … WHERE the
//     values are distinct. Its SELECT looks each staged row up by primary key and leaves
//     out those identical to the stored ones, so an unchanged row is neither locked nor
//     rewritten: its xmin and synced_at stay, and no WAL is written for it. RETURNING
//     tells inserted rows from updated ones; the other staged rows were unchanged.
//  5. Child tables (Table.ParentKey set): for every parent in the batch, the child rows
//     the batch no longer lists are deleted.
//  6. Deletions (deletions.go): marked rows that came back are restored, passes record
//     the keys they saw, and a completed pass marks what it did not see.
//  7. Rejects go to sync.rejects, the cursors to sync.state; commit.
//
// In the code: [Loader.Load] does step 1, loadTx steps 2 to 7 in that order, writeTable
// steps 3 and 4 (their SQL is in plan.go).
//
// Steps 3 and 4 run, table by table, in a savepoint. When PostgreSQL refuses rows (a
// value out of range, a NOT NULL or CHECK violation), both are rolled back and run
// again on each half of the rows, down to single rows: the refused ones go to
// sync.rejects with PostgreSQL's message (the payload is always writable; repair.go)
// and the rest loads.
//
// A transaction that fails for a transient reason (SQLSTATE class 08, 40001, 40P01,
// 57P01-57P03, a connection lost) is run again whole, on a fresh connection, up to five
// tries with back-off (internal/dbretry); any other error fails the Load.
//
// Every statement goes through [DBTX]: a pool in production. A test may give the Loader
// a transaction it rolls back at the end; each Load is then a savepoint in it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/dbretry"
	"github.com/crmsync/crmsync/internal/stream"
)

// BatchSize is the number of rows per Load the pipeline should aim for: large enough
// that per-transaction costs (a dozen round trips, a commit) vanish, small enough that
// a batch's memory and a failed batch's retry stay cheap.
const BatchSize = 10000

// DBTX is what the loader needs of the database: a *pgxpool.Pool, a *pgx.Conn or a
// pgx.Tx. Begin starts a Load's transaction (a savepoint inside a pgx.Tx) and the
// savepoints of its steps.
type DBTX interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Loader writes batches into PostgreSQL. It is safe for concurrent use by several
// streams.
type Loader struct {
	db     DBTX
	logger *slog.Logger
	// tables caches what the catalog says of each target table (*tableInfo by name).
	tables sync.Map
	// del is the state of deletion marking (deletions.go).
	del deletions
	// retryPolicy bounds the retries of a transaction that failed for a transient
	// reason (the zero value: dbretry's defaults; tests shorten the waits).
	retryPolicy dbretry.Policy
}

// New returns a Loader writing through db. A nil logger discards logs.
func New(db DBTX, logger *slog.Logger) *Loader {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Loader{db: db, logger: logger}
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
// values (a string, an array element, a JSON document) repaired for PostgreSQL.
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
	var infos map[string]*tableInfo
	err := dbretry.Do(ctx, l.retry(ctx, desc), func(ctx context.Context) (err error) {
		infos, err = l.tableInfos(ctx, desc)
		return err
	})
	if err != nil {
		return stream.LoadResult{}, fmt.Errorf("load %s: %w", desc.ID(), err)
	}

	// 1. Prepare.
	b, cursors := combine(desc, batches)
	w := work{runID: runID, desc: desc, cursors: cursors}
	for _, rej := range b.Rejects {
		w.rejects = append(w.rejects, reject{table: rej.Table, reason: rej.Reason, payload: rej.Payload})
	}
	mainRows := len(b.Rows[desc.Tables[0].Name]) > 0
	for _, t := range desc.Tables {
		rows := b.Rows[t.Name]
		// A child table without rows still gets a plan when its parents are in the
		// batch: they list no children now, so their stored children are deleted.
		if len(rows) == 0 && (len(t.ParentKey) == 0 || !mainRows) {
			continue
		}
		p, err := prepare(t, infos[t.Name], rows)
		if err != nil {
			return stream.LoadResult{}, fmt.Errorf("load %s: %w", desc.ID(), err)
		}
		w.nulsCleaned += p.nulsCleaned
		w.rejects = append(w.rejects, p.rejects...)
		w.plans = append(w.plans, p)
	}
	if len(w.plans) > 0 && w.plans[0].table.Name == desc.Tables[0].Name {
		w.parents = w.plans[0].keys
	}
	// Passes over complete lists: the keys each one saw, read once the rows are
	// converted (deletions.go).
	if w.passes, err = collectPasses(desc, batches); err != nil {
		return stream.LoadResult{}, fmt.Errorf("load %s: %w", desc.ID(), err)
	}

	// 2-7, in one transaction, run again whole when it failed for a transient reason.
	var res stream.LoadResult
	err = dbretry.Do(ctx, l.retry(ctx, desc), func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, l.db, func(tx pgx.Tx) (err error) {
			res, err = l.loadTx(ctx, tx, w)
			return err
		})
	})
	if err != nil {
		if len(batches) > 1 {
			return stream.LoadResult{}, fmt.Errorf("load %s: %d batches of %d rows: %w", desc.ID(), len(batches), b.Len(), err)
		}
		return stream.LoadResult{}, fmt.Errorf("load %s batch of %d rows: %w", desc.ID(), b.Len(), err)
	}
	return res, nil
}

// work is a Load's prepared batch: what its transaction writes.
type work struct {
	runID   int64
	desc    stream.Desc
	plans   []*tablePlan
	rejects []reject // from the extractor and from conversion
	// parents are the main table's keys in the batch, one slice per key column: the
	// parents whose children the batch lists in full.
	parents     [][]string
	passes      []passWork
	cursors     []partitionCursor
	nulsCleaned int
}

// retry is the policy of a Load's transient failures: each retry is logged.
func (l *Loader) retry(ctx context.Context, desc stream.Desc) dbretry.Policy {
	p := l.retryPolicy
	p.OnRetry = func(attempt int, wait time.Duration, err error) {
		l.logger.WarnContext(ctx, "load failed for a transient reason; running it again",
			"stream", desc.ID(), "attempt", attempt, "wait", wait, "err", err)
	}
	return p
}

// loadTx is steps 2 to 7 of a Load (see the package doc), in the transaction tx. It
// keeps its counts local, so that a failed try reports nothing.
func (l *Loader) loadTx(ctx context.Context, tx DBTX, w work) (stream.LoadResult, error) {
	var res stream.LoadResult
	// 2. The run must still hold its stream, and nobody may take it over until this
	// transaction ends (see internal/checkpoint).
	if w.runID > 0 {
		if err := checkpoint.HoldsLease(ctx, tx, w.runID); err != nil {
			return res, err
		}
	}
	// 3 and 4, table by table: stage, then merge; the staging tables are made ready
	// for all of them at once.
	if err := readyStaging(ctx, tx, w.plans); err != nil {
		return res, err
	}
	rejects := slices.Clip(w.rejects)
	for _, p := range w.plans {
		tr, trej, err := l.writeTable(ctx, tx, p)
		if err != nil {
			return res, fmt.Errorf("table %s: %w", p.table.Name, err)
		}
		res.Add(tr)
		rejects = append(rejects, trej...)
	}
	// 5. Children the batch no longer lists.
	n, err := deleteOrphans(ctx, tx, w.desc, w.plans, w.parents)
	if err != nil {
		return res, err
	}
	res.Deleted += n
	// 6. Deletions.
	dr, err := l.applyDeletions(ctx, tx, w.runID, w.desc, w.plans, w.passes)
	if err != nil {
		return res, err
	}
	res.Add(dr)
	// 7. Rejects and cursors; BeginFunc commits.
	if err := writeRejects(ctx, tx, w.runID, w.desc, rejects); err != nil {
		return res, err
	}
	res.Rejected = len(rejects)
	res.NULsCleaned = w.nulsCleaned
	if err := saveCursors(ctx, tx, w.desc, w.cursors); err != nil {
		return res, err
	}
	return res, nil
}

// writeTable stages a table's rows and merges them into the table (steps 3 and 4), in
// a savepoint, rejecting the rows PostgreSQL refuses.
func (l *Loader) writeTable(ctx context.Context, tx DBTX, p *tablePlan) (stream.LoadResult, []reject, error) {
	var (
		res    stream.LoadResult
		rejs   []reject
		staged int // rows staged and merged (by savepoints that were released)
	)
	if len(p.rows) == 0 {
		return res, nil, nil
	}
	start := time.Now()
	stg := p.stagingName()
	c, err := isolate(ctx, tx, p.all(), func(db DBTX, idx []int) (counts, error) {
		// 3. Stage.
		if _, err := p.copyInto(ctx, db, stg, idx); err != nil {
			return counts{}, err
		}
		// 4. Merge.
		c, err := p.merge(ctx, db, stg, idx, len(idx) == len(p.rows))
		if err == nil {
			staged += len(idx)
		}
		return c, err
	}, func(i int, err error) { rejs = append(rejs, p.rejectRow(i, pgReason(err))) })
	if err != nil {
		return res, nil, err
	}
	res.Inserted = int(c.inserted)
	res.Updated = int(c.updated)
	res.Unchanged = staged - res.Inserted - res.Updated
	l.logger.DebugContext(ctx, "table loaded", "table", p.table.Name, "rows", len(p.rows),
		"inserted", res.Inserted, "updated", res.Updated, "unchanged", res.Unchanged,
		"rejected", len(rejs), "duration", time.Since(start))
	return res, rejs, nil
}

// counts is what one write step did.
type counts struct{ inserted, updated int64 }

// isolate applies fn to the rows idx inside a savepoint. When PostgreSQL refuses them
// with a data error, it rolls back to the savepoint and applies fn to each half, down to
// single rows, which it passes to bad; the other rows are applied. Any other error is
// returned as it is.
func isolate(ctx context.Context, tx DBTX, idx []int, fn func(db DBTX, idx []int) (counts, error), bad func(int, error)) (counts, error) {
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

// deleteOrphans deletes, for every child table, the rows of the batch's parents that
// the batch no longer lists, in one round trip.
func deleteOrphans(ctx context.Context, db DBTX, desc stream.Desc, plans []*tablePlan, parents [][]string) (int, error) {
	if parents == nil {
		return 0, nil
	}
	var (
		batch    pgx.Batch
		children []*tablePlan
	)
	for _, c := range plans {
		if len(c.table.ParentKey) == 0 {
			continue
		}
		sql, args, err := orphanSQL(desc.Tables[0], c, parents)
		if err != nil {
			return 0, fmt.Errorf("table %s: %w", c.table.Name, err)
		}
		batch.Queue(sql, args...)
		children = append(children, c)
	}
	if len(children) == 0 {
		return 0, nil
	}
	br := db.SendBatch(ctx, &batch)
	deleted := 0
	for _, c := range children {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return 0, fmt.Errorf("table %s: delete removed child rows: %w", c.table.Name, err)
		}
		deleted += int(tag.RowsAffected())
	}
	if err := br.Close(); err != nil {
		return 0, fmt.Errorf("delete removed child rows: %w", err)
	}
	return deleted, nil
}

// orphanSQL returns the statement that deletes, for every parent key of the batch
// (parents: one slice per key column), the child rows whose key the batch does not list.
//
// Each parent's stored children are found through the child's primary key (which
// starts with the parent key), in a LATERAL subquery that OFFSET 0 keeps the planner
// from flattening: it stays one index scan per parent, where a join on the parent key
// could become a hash join reading the whole child table for every batch. The rows
// found are anti-joined against the batch's child keys.
func orphanSQL(parent stream.Table, child *tablePlan, parents [][]string) (string, []any, error) {
	if len(child.table.ParentKey) != len(parent.Key) {
		return "", nil, fmt.Errorf("parent key %v does not match %s key %v", child.table.ParentKey, parent.Name, parent.Key)
	}
	var (
		args  []any
		pcols []string
		conds []string
		xcols []string
		kcols []string
		kcond []string
	)
	for i, col := range child.table.ParentKey {
		typ, err := child.sqlType(col)
		if err != nil {
			return "", nil, err
		}
		args = append(args, parents[i])
		pcols = append(pcols, fmt.Sprintf("p%d", i))
		conds = append(conds, fmt.Sprintf("c.%s = p.p%d::%s", ident(col), i, typ))
	}
	for i, col := range child.table.Key {
		typ, err := child.sqlType(col)
		if err != nil {
			return "", nil, err
		}
		args = append(args, child.keys[i])
		xcols = append(xcols, "c."+ident(col))
		kcols = append(kcols, fmt.Sprintf("k%d", i))
		kcond = append(kcond, fmt.Sprintf("x.%s = k.k%d::%s", ident(col), i, typ))
	}
	target := child.target().Sanitize()
	sql := fmt.Sprintf(`delete from %[1]s as d
		using (select x.ctid as tid
			from (select distinct * from unnest(%[2]s) as p(%[3]s)) as p
			cross join lateral (select c.ctid, %[4]s from %[1]s as c where %[5]s offset 0) as x
			where not exists (select from unnest(%[6]s) as k(%[7]s) where %[8]s)) as o
		where d.ctid = o.tid`,
		target,
		placeholders(1, len(pcols), "text[]"), strings.Join(pcols, ", "),
		strings.Join(xcols, ", "), strings.Join(conds, " and "),
		placeholders(len(pcols)+1, len(kcols), "text[]"), strings.Join(kcols, ", "),
		strings.Join(kcond, " and "))
	return sql, args, nil
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
func writeRejects(ctx context.Context, db DBTX, runID int64, desc stream.Desc, rejs []reject) error {
	if len(rejs) == 0 {
		return nil
	}
	var run *int64
	if runID > 0 {
		run = &runID
	}
	rows := make([][]any, len(rejs))
	for i, r := range rejs {
		payload, pj, note := rejectPayload(r.payload)
		var pjv any
		if pj != nil {
			pjv = pj
		}
		reason, _ := repairString(r.reason + note)
		rows[i] = []any{run, desc.Source, desc.Name, r.table, reason, payload, pjv}
	}
	_, err := db.CopyFrom(ctx, pgx.Identifier{"sync", "rejects"},
		[]string{"run_id", "source", "stream", "table_name", "reason", "payload", "payload_json"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("write %d rejects: %w", len(rejs), err)
	}
	return nil
}
