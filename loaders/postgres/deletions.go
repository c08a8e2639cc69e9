package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/stream"
)

// DefaultDeleteGuard is the share of a list's live rows a completed pass may mark deleted
// when the Loader is not told otherwise (CRMSYNC_DELETE_GUARD).
const DefaultDeleteGuard = 0.5

// deletions holds the Loader's state for marking deleted rows (see stream.Pass).
type deletions struct {
	mu sync.Mutex
	// guard is the share of a scope's live rows a pass may mark: 0 marks nothing, 1 or
	// more has no limit. guardSet tells a zero guard from an unset one.
	guard    float64
	guardSet bool
}

// SetDeleteGuard sets the share of a list's live rows (0 to 1) that a completed pass may
// mark deleted; above it nothing is marked and the run's sync.runs row says why. 0 turns
// marking off (rows that come back are still restored); 1 turns the guard off. Call it
// before the first Load.
func (l *Loader) SetDeleteGuard(share float64) {
	l.del.mu.Lock()
	defer l.del.mu.Unlock()
	l.del.guard, l.del.guardSet = min(max(share, 0), 1), true
}

func (l *Loader) deleteGuard() float64 {
	l.del.mu.Lock()
	defer l.del.mu.Unlock()
	if !l.del.guardSet {
		return DefaultDeleteGuard
	}
	return l.del.guard
}

// passWork is one pass's part of a Load: the keys its batches carried for its table, in
// batch order, and whether the pass started or completed in this Load.
type passWork struct {
	pass  stream.Pass
	table stream.Table
	scope string
	keys  [][]string // one slice per key column
}

// collectPasses gathers the passes of a Load's batches, in batch order. It runs after
// prepare, which converted the rows' values in place, so the keys read here are written
// as the loader writes keys (keyText). A batch starting a pass again after one completed
// in the same Load opens a new entry.
func collectPasses(desc stream.Desc, batches []stream.Batch) ([]passWork, error) {
	var work []passWork
	for _, b := range batches {
		for _, p := range b.Passes {
			t, ok := desc.Table(p.Table)
			if !ok {
				return nil, fmt.Errorf("pass over unknown table %s", p.Table)
			}
			scope := p.Scope.String()
			at := -1
			for i := len(work) - 1; i >= 0; i-- {
				if w := &work[i]; w.table.Name == p.Table && w.scope == scope && !w.pass.Done {
					at = i
					break
				}
			}
			if at < 0 || p.Start {
				work = append(work, passWork{pass: stream.Pass{Table: p.Table, Scope: p.Scope}, table: t, scope: scope,
					keys: make([][]string, len(t.Key))})
				at = len(work) - 1
			}
			w := &work[at]
			w.pass.Start = w.pass.Start || p.Start
			w.pass.Done = p.Done
			idx := columnIndexes(t, t.Key)
			if idx == nil {
				return nil, fmt.Errorf("table %s: key columns %v are not among its columns", t.Name, t.Key)
			}
			for _, r := range b.Rows[p.Table] {
				if len(r) != len(t.Columns) {
					continue
				}
				kts := make([]string, len(idx))
				ok := true
				for j, ci := range idx {
					if kts[j], ok = keyText(r[ci]); !ok {
						break
					}
				}
				if !ok || keyBytes(kts) > maxKeyBytes {
					continue // rejected by prepare: never in the table, so never seen
				}
				for j := range kts {
					w.keys[j] = append(w.keys[j], kts[j])
				}
			}
		}
	}
	return work, nil
}

// info returns the catalog facts of one of the Load's tables (read before its
// transaction).
func (l *Loader) info(table string) *tableInfo {
	if ti, ok := l.tables.Load(table); ok {
		return ti.(*tableInfo)
	}
	return &tableInfo{}
}

// applyDeletions does, in a Load's transaction after its rows are written, what the
// rows and passes mean for deleted_at: rows loaded that were marked deleted are restored,
// the passes' keys are recorded as seen, and each completed pass marks the rows of its
// list it did not see (guard permitting). What it did is added to the run's sync.runs row.
func (l *Loader) applyDeletions(ctx context.Context, tx DBTX, runID int64, desc stream.Desc, plans []*tablePlan, work []passWork) (stream.LoadResult, error) {
	var res stream.LoadResult
	var batch pgx.Batch
	restores := 0
	for _, p := range plans {
		if len(p.rows) == 0 || !p.info.deletedAt {
			continue
		}
		sql, err := restoreSQL(p)
		if err != nil {
			return res, err
		}
		batch.Queue(sql, anys(p.keys)...)
		restores++
	}
	for _, w := range work {
		if w.pass.Start {
			batch.Queue(`delete from sync.seen where stream = $1 and table_name = $2 and scope = $3`, desc.ID(), w.table.Name, w.scope)
		}
		if len(w.keys) > 0 && len(w.keys[0]) > 0 {
			batch.Queue(seenSQL(len(w.keys)), append([]any{desc.ID(), w.table.Name, w.scope}, anys(w.keys)...)...)
		}
	}
	if batch.Len() > 0 {
		br := tx.SendBatch(ctx, &batch)
		for i := range batch.Len() {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return res, fmt.Errorf("restore rows and record seen keys: %w", err)
			}
			if i < restores {
				res.Restored += int(tag.RowsAffected())
			}
		}
		if err := br.Close(); err != nil {
			return res, fmt.Errorf("restore rows and record seen keys: %w", err)
		}
	}

	var held []string
	for _, w := range work {
		if !w.pass.Done {
			continue
		}
		n, note, err := l.completePass(ctx, tx, desc, w)
		if err != nil {
			return res, fmt.Errorf("complete pass over %s: %w", w.table.Name, err)
		}
		res.PassesDone++
		res.MarkedDeleted += n
		if note != "" {
			res.PassesHeld++
			held = append(held, note)
		}
	}
	if runID > 0 && (res.PassesDone > 0 || res.Restored > 0) {
		var note *string
		if len(held) > 0 {
			s := strings.Join(held, "; ")
			note = &s
		}
		_, err := tx.Exec(ctx, `update sync.runs set passes_completed = passes_completed + $2,
				rows_marked_deleted = rows_marked_deleted + $3, rows_restored = rows_restored + $4,
				deletions_held = case when $5::text is null then deletions_held
					else coalesce(deletions_held || '; ', '') || $5::text end
			where id = $1`, runID, res.PassesDone, res.MarkedDeleted, res.Restored, note)
		if err != nil {
			return res, fmt.Errorf("record deletions in run %d: %w", runID, err)
		}
	}
	return res, nil
}

// completePass marks the rows of w's list that the pass did not see, unless the guard
// holds it back (then note says why), and forgets the pass's keys.
func (l *Loader) completePass(ctx context.Context, tx DBTX, desc stream.Desc, w passWork) (marked int, note string, err error) {
	guard := l.deleteGuard()
	if l.info(w.table.Name).deletedAt && guard > 0 {
		where, args, err := unseenWhere(desc.ID(), w, l.info(w.table.Name))
		if err != nil {
			return 0, "", err
		}
		var unseen, live int
		err = tx.QueryRow(ctx, fmt.Sprintf(`select count(*) filter (where %s), count(*)
			from %s as t where %s`, where.unseen, ident2(w.table.Name), where.live), args...).Scan(&unseen, &live)
		if err != nil {
			return 0, "", fmt.Errorf("count unseen rows: %w", err)
		}
		switch {
		case unseen == 0:
		case guard < 1 && float64(unseen) > guard*float64(live):
			note = fmt.Sprintf("%s%s: %d of %d live rows not seen, more than the guard's %g; none marked",
				w.table.Name, scopeText(w.scope), unseen, live, guard)
			l.logger.WarnContext(ctx, "delete guard held back a complete pass: nothing marked deleted",
				"stream", desc.ID(), "table", w.table.Name, "scope", w.scope, "unseen", unseen, "live", live, "guard", guard)
		default:
			var children []stream.Table
			if w.table.Name == desc.Tables[0].Name {
				for _, c := range desc.Tables[1:] {
					if len(c.ParentKey) != len(w.table.Key) {
						continue
					}
					if l.info(c.Name).deletedAt {
						children = append(children, c)
					}
				}
			}
			sql := markSQL(w.table, children, where)
			if err := tx.QueryRow(ctx, sql, args...).Scan(&marked); err != nil {
				return 0, "", fmt.Errorf("mark unseen rows deleted: %w", err)
			}
			l.logger.InfoContext(ctx, "marked rows deleted", "stream", desc.ID(), "table", w.table.Name,
				"scope", w.scope, "rows", marked, "live", live)
		}
	}
	if _, err := tx.Exec(ctx, `delete from sync.seen where stream = $1 and table_name = $2 and scope = $3`,
		desc.ID(), w.table.Name, w.scope); err != nil {
		return 0, "", fmt.Errorf("forget seen keys: %w", err)
	}
	return marked, note, nil
}

func scopeText(scope string) string {
	if scope == "" {
		return ""
	}
	return " (" + scope + ")"
}

// passWhere holds the conditions on a pass's table (alias t): live, the live rows of its
// scope; unseen, those of them the pass did not see.
type passWhere struct{ live, unseen string }

// unseenWhere builds the conditions of a pass; its arguments are the stream, table and
// scope ($1-$3), then the scope's values.
func unseenWhere(streamID string, w passWork, ti *tableInfo) (passWhere, []any, error) {
	args := []any{streamID, w.table.Name, w.scope}
	live := []string{"t.deleted_at is null"}
	for _, col := range sortedKeys(w.pass.Scope) {
		typ, err := ti.typeOf(w.table.Name, col)
		if err != nil {
			return passWhere{}, nil, fmt.Errorf("scope of a pass: %w", err)
		}
		args = append(args, w.pass.Scope[col])
		live = append(live, fmt.Sprintf("t.%s = $%d::%s", ident(col), len(args), typ))
	}
	keyText := make([]string, len(w.table.Key))
	for i, k := range w.table.Key {
		keyText[i] = "t." + ident(k) + "::text"
	}
	unseen := fmt.Sprintf(`not exists (select from sync.seen as s
		where s.stream = $1 and s.table_name = $2 and s.scope = $3 and s.key = array[%s])`, strings.Join(keyText, ", "))
	return passWhere{live: strings.Join(live, " and "), unseen: unseen}, args, nil
}

// markSQL marks the unseen rows of a pass's table and the children of those rows, and
// returns how many rows it marked in all.
func markSQL(t stream.Table, children []stream.Table, where passWhere) string {
	var b strings.Builder
	fmt.Fprintf(&b, `with m0 as (update %s as t set deleted_at = now() where %s and %s returning %s)`,
		ident2(t.Name), where.live, where.unseen, strings.Join(prefixed("t.", t.Key), ", "))
	counts := []string{"(select count(*) from m0)"}
	for i, c := range children {
		conds := make([]string, len(t.Key))
		for j := range t.Key {
			conds[j] = fmt.Sprintf("c.%s = m0.%s", ident(c.ParentKey[j]), ident(t.Key[j]))
		}
		fmt.Fprintf(&b, `, m%d as (update %s as c set deleted_at = now() from m0 where %s and c.deleted_at is null returning 1)`,
			i+1, ident2(c.Name), strings.Join(conds, " and "))
		counts = append(counts, fmt.Sprintf("(select count(*) from m%d)", i+1))
	}
	fmt.Fprintf(&b, ` select %s`, strings.Join(counts, " + "))
	return b.String()
}

// restoreSQL clears deleted_at on the rows of the batch's keys ($1… one text array per
// key column) that are marked.
func restoreSQL(p *tablePlan) (string, error) {
	t := p.table
	names := make([]string, len(t.Key))
	conds := make([]string, len(t.Key))
	for j, k := range t.Key {
		typ, err := p.sqlType(k)
		if err != nil {
			return "", err
		}
		names[j] = fmt.Sprintf("k%d", j)
		conds[j] = fmt.Sprintf("t.%s = k.k%d::%s", ident(k), j, typ)
	}
	// The uncorrelated EXISTS is a one-time filter: on a table without marked rows (the
	// usual case) the statement reads one empty index and joins nothing.
	return fmt.Sprintf(`update %[1]s as t set deleted_at = null from unnest(%[2]s) as k(%[3]s)
		where exists (select from %[1]s where deleted_at is not null) and t.deleted_at is not null and %[4]s`,
		ident2(t.Name), placeholders(1, len(names), "text[]"), strings.Join(names, ", "), strings.Join(conds, " and ")), nil
}

// seenSQL records a pass's keys ($4… one text array per key column) as seen.
func seenSQL(n int) string {
	names := make([]string, n)
	for j := range names {
		names[j] = fmt.Sprintf("k%d", j)
	}
	return fmt.Sprintf(`insert into sync.seen (stream, table_name, scope, key)
		select distinct $1::text, $2::text, $3::text, array[%s] from unnest(%s) as k(%s)
		on conflict do nothing`, strings.Join(names, ", "), placeholders(4, n, "text[]"), strings.Join(names, ", "))
}

// ident2 quotes a schema-qualified table name.
func ident2(name string) string { return pgx.Identifier(strings.Split(name, ".")).Sanitize() }

func prefixed(prefix string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = prefix + ident(c)
	}
	return out
}

func anys(keys [][]string) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

func sortedKeys(s stream.Scope) []string { return slices.Sorted(maps.Keys(s)) }
