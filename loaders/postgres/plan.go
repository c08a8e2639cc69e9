package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/stream"
)

// tablePlan is one table's rows of a batch, converted and deduplicated, with the SQL to
// write them.
type tablePlan struct {
	table stream.Table
	types []colType
	cols  []string // column names, in row order
	// keyIdx are the positions of the key columns in cols.
	keyIdx []int
	// keys holds the rows' key values as text (see keyText), one slice per key column:
	// keys[j][i] is key column j of row i. The probe and the child deletes send them.
	keys [][]string
	// rows are the converted rows (key-unique): the batch's own rows, converted in
	// place, since a copy would add 16 bytes per value to every load in progress.
	rows []stream.Row
	// rawIdx is the position of the raw column, -1 without one.
	rawIdx      int
	nulsCleaned int
	// rejects are the rows refused during conversion.
	rejects []reject
	// rawSent keeps, by row, the raw value as received where it had to be repaired,
	// for the payload of the row's reject if PostgreSQL refuses the row.
	rawSent map[int]any
	// withHash is set when the table has the _row_hash column: every write then sets
	// it, from hashes (see rowHash; hashed marks the ones computed).
	withHash bool
	hashes   []int64
	hashed   []bool
	hasher   *rowHasher
}

// prepare converts and deduplicates a table's rows.
func prepare(t stream.Table, rows []stream.Row) (*tablePlan, error) {
	if len(t.Key) == 0 {
		return nil, fmt.Errorf("table %s has no key", t.Name)
	}
	p := &tablePlan{table: t, rawIdx: -1}
	for i, c := range t.Columns {
		p.cols = append(p.cols, c.Name)
		p.types = append(p.types, parseType(c.Type))
		if c.Name == "raw" {
			p.rawIdx = i
		}
	}
	for _, k := range t.Key {
		i := p.colIndex(k)
		if i < 0 {
			return nil, fmt.Errorf("table %s: key column %s is not among its columns", t.Name, k)
		}
		p.keyIdx = append(p.keyIdx, i)
	}
	p.rows = make([]stream.Row, 0, len(rows))
	seen := make(map[string]int, len(rows))
	p.keys = make([][]string, len(p.keyIdx))
	for j := range p.keys {
		p.keys[j] = make([]string, 0, len(rows))
	}
	kts := make([]string, len(p.keyIdx))
	var kb strings.Builder
rows:
	for _, r := range rows {
		if len(r) != len(p.cols) {
			p.rejects = append(p.rejects, p.rejectSrc(r, fmt.Sprintf("row has %d values for %d columns", len(r), len(p.cols))))
			continue
		}
		// Converted in place: the loader owns a batch's rows once it is sent. A raw
		// column that had to be repaired is kept as received too, for the payload of the
		// row's reject should it be refused (rare: a record with text PostgreSQL cannot
		// store).
		var rawSent any
		for i, v := range r {
			cv, cleaned, err := p.types[i].convert(v)
			if cleaned {
				p.nulsCleaned++
				if i == p.rawIdx {
					rawSent = v
				}
			}
			if err != nil {
				p.rejects = append(p.rejects, p.rejectSrc(restoreRaw(r, p.rawIdx, rawSent), fmt.Sprintf("column %s: %v", p.cols[i], err)))
				continue rows
			}
			r[i] = cv
		}
		for j, ki := range p.keyIdx {
			kt, ok := keyText(r[ki])
			if !ok {
				p.rejects = append(p.rejects, p.rejectSrc(restoreRaw(r, p.rawIdx, rawSent), fmt.Sprintf("key column %s is empty or not a key type", p.cols[ki])))
				continue rows
			}
			kts[j] = kt
		}
		key := kts[0]
		if len(kts) > 1 {
			kb.Reset()
			for j, kt := range kts {
				if j > 0 {
					kb.WriteByte(0) // NULs are cleaned from values, so they separate safely
				}
				kb.WriteString(kt)
			}
			key = kb.String()
		}
		if at, dup := seen[key]; dup {
			// The last occurrence wins: it is the freshest the API sent. Its key texts
			// are the same.
			p.rows[at] = r
			p.keepRawSent(at, rawSent)
			continue
		}
		seen[key] = len(p.rows)
		p.keepRawSent(len(p.rows), rawSent)
		p.rows = append(p.rows, r)
		for j, kt := range kts {
			p.keys[j] = append(p.keys[j], kt)
		}
	}
	return p, nil
}

// colIndex returns the position of a column, -1 when absent.
func (p *tablePlan) colIndex(name string) int {
	for i, c := range p.cols {
		if c == name {
			return i
		}
	}
	return -1
}

// colTypeSQL returns a column's SQL type, for casts.
func (p *tablePlan) colTypeSQL(name string) (string, error) {
	for _, c := range p.table.Columns {
		if c.Name == name {
			return c.Type, nil
		}
	}
	return "", fmt.Errorf("table %s has no column %s", p.table.Name, name)
}

// target is the table's identifier.
func (p *tablePlan) target() pgx.Identifier {
	return pgx.Identifier(strings.Split(p.table.Name, "."))
}

// probe reports, for each row, whether its key already exists in the table.
func (p *tablePlan) probe(ctx context.Context, tx pgx.Tx) ([]bool, error) {
	args := make([]any, len(p.keyIdx))
	names := make([]string, len(p.keyIdx))
	conds := make([]string, len(p.keyIdx))
	for j, ki := range p.keyIdx {
		args[j] = p.keys[j]
		names[j] = fmt.Sprintf("k%d", j)
		conds[j] = fmt.Sprintf("t.%s = p.k%d::%s", ident(p.cols[ki]), j, p.table.Columns[ki].Type)
	}
	sql := fmt.Sprintf(`select p.ord from unnest(%s) with ordinality as p(%s, ord)
		where exists (select from %s as t where %s)`,
		placeholders(1, len(args), "text[]"), strings.Join(names, ", "),
		p.target().Sanitize(), strings.Join(conds, " and "))
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("look up existing keys: %w", err)
	}
	exists := make([]bool, len(p.rows))
	var ord int64
	_, err = pgx.ForEachRow(rows, []any{&ord}, func() error {
		exists[ord-1] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up existing keys: %w", err)
	}
	return exists, nil
}

// beginIndexJoins starts a load's transaction with hash and merge joins switched off;
// the child-row deletes switch hash joins back on for themselves (finish).
//
// The probe and the merge join a batch (thousands of rows, in an array or a temp table
// without statistics) against the target table (up to millions). Left alone, the
// planner often picks a hash join, reading the whole target table for every batch:
// the merge of an unchanged batch into the benchmark's 100,000-row table took 10×
// longer that way. With only nested loops available, each batch row costs one
// primary-key index lookup, so a batch costs the same however large the table grows.
// Sent with BEGIN in one simple-protocol message, the settings cost no round trip.
const beginIndexJoins = "begin; set local enable_hashjoin = off; set local enable_mergejoin = off"

// copyAll COPYs every row straight into the table. It runs only in an attempt without
// savepoints: when the COPY fails (a key exists after all, or a row is refused), the
// transaction is aborted and Load runs it again carefully.
func (p *tablePlan) copyAll(ctx context.Context, tx pgx.Tx, withSyncedAt bool) (int64, error) {
	var now time.Time
	if withSyncedAt {
		if err := tx.QueryRow(ctx, "select now()").Scan(&now); err != nil {
			return 0, fmt.Errorf("read transaction time: %w", err)
		}
	}
	idx := make([]int, len(p.rows))
	for i := range idx {
		idx[i] = i
	}
	return p.copyInto(ctx, tx, p.target(), idx, withSyncedAt, now, false)
}

// stagingName names the session's temp staging table for this table and column set;
// a changed column set gets a new table.
func (p *tablePlan) stagingName() string {
	h := fnv.New64a()
	h.Write([]byte(p.table.Name))
	for _, c := range p.table.Columns {
		h.Write([]byte{0})
		h.Write([]byte(c.Name + " " + c.Type))
	}
	if p.withHash {
		h.Write([]byte{0})
		h.Write([]byte(rowHashColumn))
	}
	return fmt.Sprintf("crmsync_stg_%016x", h.Sum64())
}

// staging makes sure the session's staging table exists and returns its identifier.
// It is created once per connection and emptied at every commit (ON COMMIT DELETE
// ROWS), which is cheaper than creating and dropping a table per transaction: no
// catalog churn. Temp tables write no WAL and have no indexes.
func (p *tablePlan) staging(ctx context.Context, tx pgx.Tx) (pgx.Identifier, error) {
	name := p.stagingName()
	defs := make([]string, 0, len(p.cols)+1)
	for _, c := range p.table.Columns {
		defs = append(defs, ident(c.Name)+" "+c.Type)
	}
	if p.withHash {
		defs = append(defs, ident(rowHashColumn)+" bigint")
	}
	defs = append(defs, "_ord int4")
	_, err := tx.Exec(ctx, fmt.Sprintf("create temp table if not exists %s (%s) on commit delete rows",
		ident(name), strings.Join(defs, ", ")))
	if err != nil {
		return nil, fmt.Errorf("create staging table: %w", err)
	}
	// No TRUNCATE: a transaction fills each table's staging once, rows of a savepoint
	// rolled back are invisible, and commit empties it.
	return pgx.Identifier{name}, nil
}

// copyInto COPYs the rows idx into table; withSyncedAt appends synced_at = now,
// withOrd appends each row's index as _ord (staging). On a table with the hash
// column (staging's too), each row's hash is written with it.
func (p *tablePlan) copyInto(ctx context.Context, tx pgx.Tx, table pgx.Identifier, idx []int, withSyncedAt bool, now time.Time, withOrd bool) (int64, error) {
	cols := p.cols
	if p.withHash {
		cols = append(cols[:len(cols):len(cols)], rowHashColumn)
	}
	if withSyncedAt {
		cols = append(cols[:len(cols):len(cols)], "synced_at")
	}
	if withOrd {
		cols = append(cols[:len(cols):len(cols)], "_ord")
	}
	oids, sql, err := copyColumns(ctx, tx, table, cols)
	if err != nil {
		return 0, fmt.Errorf("copy %d rows into %s: %w", len(idx), table.Sanitize(), err)
	}
	m := tx.Conn().TypeMap()
	n := len(p.cols)
	src := newCopyReader(len(idx), func(buf []byte, k int) ([]byte, error) {
		i := idx[k]
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(cols)))
		var err error
		for j, v := range p.rows[i] {
			if buf, err = appendCopyValue(m, buf, oids[j], v); err != nil {
				return nil, err
			}
		}
		at := n
		if p.withHash {
			if buf, err = appendCopyInt(m, buf, oids[at], p.rowHash(i)); err != nil {
				return nil, err
			}
			at++
		}
		if withSyncedAt {
			if buf, err = appendCopyTime(m, buf, oids[at], now); err != nil {
				return nil, err
			}
			at++
		}
		if withOrd {
			if buf, err = appendCopyInt(m, buf, oids[at], int64(i)); err != nil {
				return nil, err
			}
		}
		return buf, nil
	})
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, src, sql)
	if err != nil {
		return 0, fmt.Errorf("copy %d rows into %s: %w", len(idx), table.Sanitize(), err)
	}
	return tag.RowsAffected(), nil
}

// merge upserts the staged rows (all of them, or those whose _ord is in idx) into
// the table. With compare, rows identical to the stored ones are dropped before they
// reach the upsert (an anti-join), so an unchanged row is neither locked nor
// rewritten. Without it (rows whose stored hash differs, which nearly always changed)
// that second lookup per row is saved: the upsert still leaves an identical row's
// values, xmin and synced_at as they are, it only locks it.
func (p *tablePlan) merge(ctx context.Context, tx pgx.Tx, stg pgx.Identifier, idx []int, all, withSyncedAt, compare bool) (counts, error) {
	var keyCols, nonKey []string
	for i, c := range p.cols {
		if p.isKey(i) {
			keyCols = append(keyCols, ident(c))
		} else {
			nonKey = append(nonKey, ident(c))
		}
	}
	cols := make([]string, len(p.cols))
	for i, c := range p.cols {
		cols[i] = ident(c)
	}
	keyMatch := make([]string, len(keyCols))
	for i, k := range keyCols {
		keyMatch[i] = "x." + k + " = s." + k
	}
	insCols, selCols := strings.Join(cols, ", "), "s."+strings.Join(cols, ", s.")
	if p.withHash {
		// The hash goes with the values it describes: set on insert and on a change,
		// never on its own (refreshHashes does that, for rows found equal).
		insCols += ", " + ident(rowHashColumn)
		selCols += ", s." + ident(rowHashColumn)
	}
	if withSyncedAt {
		insCols += ", synced_at"
		selCols += ", now()"
	}
	same := "true"
	conflict := "do nothing"
	if len(nonKey) > 0 {
		same = fmt.Sprintf("(x.%s) is not distinct from (s.%s)",
			strings.Join(nonKey, ", x."), strings.Join(nonKey, ", s."))
		sets := make([]string, 0, len(nonKey)+1)
		for _, c := range nonKey {
			sets = append(sets, c+" = excluded."+c)
		}
		if p.withHash {
			sets = append(sets, ident(rowHashColumn)+" = excluded."+ident(rowHashColumn))
		}
		if withSyncedAt {
			sets = append(sets, "synced_at = excluded.synced_at")
		}
		conflict = fmt.Sprintf("do update set %s where (t.%s) is distinct from (excluded.%s)",
			strings.Join(sets, ", "), strings.Join(nonKey, ", t."), strings.Join(nonKey, ", excluded."))
	}
	where := []string{"true"}
	if compare {
		where = append(where, fmt.Sprintf("not exists (select from %s as x where %s and %s)",
			p.target().Sanitize(), strings.Join(keyMatch, " and "), same))
	}
	var args []any
	if !all {
		ords := make([]int32, len(idx))
		for i, v := range idx {
			ords[i] = int32(v)
		}
		where = append(where, "s._ord = any($1)")
		args = append(args, ords)
	}
	sql := fmt.Sprintf(`with m as (
			insert into %[1]s as t (%[2]s)
			select %[3]s from %[4]s as s
			where %[5]s
			on conflict (%[6]s) %[7]s
			returning (xmax = 0) as inserted
		)
		select count(*) filter (where inserted), count(*) filter (where not inserted) from m`,
		p.target().Sanitize(), insCols, selCols, stg.Sanitize(),
		strings.Join(where, " and "), strings.Join(keyCols, ", "), conflict)
	var c counts
	if err := tx.QueryRow(ctx, sql, args...).Scan(&c.inserted, &c.updated); err != nil {
		return counts{}, fmt.Errorf("merge into %s: %w", p.table.Name, err)
	}
	return c, nil
}

// isKey reports whether column i is a key column.
func (p *tablePlan) isKey(i int) bool {
	for _, k := range p.keyIdx {
		if k == i {
			return true
		}
	}
	return false
}

// rejectRow builds the reject of converted row i.
func (p *tablePlan) rejectRow(i int, reason string) reject {
	r := p.rows[i]
	if sent, ok := p.rawSent[i]; ok {
		r = slices.Clone(r)
		r[p.rawIdx] = sent
	}
	return p.rejectSrc(r, reason)
}

// keepRawSent records row i's raw value as received when it was repaired (sent is
// non-nil), and forgets an earlier row's otherwise.
func (p *tablePlan) keepRawSent(i int, sent any) {
	switch {
	case sent != nil:
		if p.rawSent == nil {
			p.rawSent = map[int]any{}
		}
		p.rawSent[i] = sent
	case p.rawSent != nil:
		delete(p.rawSent, i)
	}
}

// restoreRaw puts the raw value as received back into a row being rejected.
func restoreRaw(r stream.Row, rawIdx int, sent any) stream.Row {
	if sent != nil {
		r[rawIdx] = sent
	}
	return r
}

// rejectSrc builds a reject from a row: its payload is the raw column
// when the table has one (the record as the API sent it), else the row as a JSON
// object of column values.
func (p *tablePlan) rejectSrc(r stream.Row, reason string) reject {
	rej := reject{table: p.table.Name, reason: reason}
	if p.rawIdx >= 0 && p.rawIdx < len(r) {
		switch raw := r[p.rawIdx].(type) {
		case json.RawMessage:
			rej.payload = raw
		case []byte:
			rej.payload = raw
		case string:
			rej.payload = []byte(raw)
		}
		if rej.payload != nil {
			return rej
		}
	}
	obj := make(map[string]any, len(r))
	for i, v := range r {
		name := fmt.Sprintf("column_%d", i)
		if i < len(p.cols) {
			name = p.cols[i]
		}
		obj[name] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		b = []byte(fmt.Sprintf("%v", []any(r)))
	}
	rej.payload = b
	return rej
}
