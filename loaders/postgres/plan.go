package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/crmsync/crmsync/internal/stream"
)

// tablePlan is one table's rows of a batch, converted and deduplicated, with the SQL that
// stages and merges them.
type tablePlan struct {
	table stream.Table
	info  *tableInfo
	cols  []string // column names, in row order
	// sqlTypes are the columns' types from the catalog, types their conversions.
	sqlTypes []string
	types    []colType
	// keyIdx are the positions of the key columns in cols.
	keyIdx []int
	// keys holds the rows' key values as text (see keyText), one slice per key column:
	// keys[j][i] is key column j of row i. The child deletes and deletions send them.
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
}

// maxKeyBytes bounds a row's key text: a B-tree entry holds at most about a third of an
// 8 kB page, and the key goes into the table's primary key and into sync.seen's, where a
// longer one would fail the whole batch rather than this row.
const maxKeyBytes = 2000

func keyBytes(kts []string) int {
	n := 0
	for _, k := range kts {
		n += len(k)
	}
	return n
}

// prepare converts and deduplicates a table's rows for the columns info describes.
func prepare(t stream.Table, info *tableInfo, rows []stream.Row) (*tablePlan, error) {
	if len(t.Key) == 0 {
		return nil, fmt.Errorf("table %s has no key", t.Name)
	}
	p := &tablePlan{table: t, info: info, rawIdx: -1}
	for i, c := range t.Columns {
		typ, err := info.typeOf(t.Name, c.Name)
		if err != nil {
			return nil, err
		}
		p.cols = append(p.cols, c.Name)
		p.sqlTypes = append(p.sqlTypes, typ)
		p.types = append(p.types, parseType(typ))
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
		if n := keyBytes(kts); n > maxKeyBytes {
			p.rejects = append(p.rejects, p.rejectSrc(restoreRaw(r, p.rawIdx, rawSent),
				fmt.Sprintf("key is %d bytes, more than the %d an index entry can hold", n, maxKeyBytes)))
			continue rows
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

// sqlType returns a column's SQL type, for casts.
func (p *tablePlan) sqlType(name string) (string, error) {
	return p.info.typeOf(p.table.Name, name)
}

// target is the table's identifier.
func (p *tablePlan) target() pgx.Identifier {
	return pgx.Identifier(strings.Split(p.table.Name, "."))
}

// all returns the positions of every row.
func (p *tablePlan) all() []int {
	idx := make([]int, len(p.rows))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// stagingName names the session's staging table for this table: a temp table with the
// table's columns and types, no constraints or indexes, and _ord, each row's position in
// rows. A changed column set gets a table of its own.
func (p *tablePlan) stagingName() pgx.Identifier {
	h := fnv.New64a()
	h.Write([]byte(p.table.Name))
	for i, c := range p.cols {
		h.Write([]byte{0})
		h.Write([]byte(c + " " + p.sqlTypes[i]))
	}
	return pgx.Identifier{fmt.Sprintf("crmsync_stg_%016x", h.Sum64())}
}

// readyStaging makes sure the session's staging tables for plans exist and are empty, in
// one round trip. Each is created once per connection and emptied at every commit (ON
// COMMIT DELETE ROWS), which is cheaper than creating and dropping a table per
// transaction; the DELETE only finds rows when the Load is a savepoint of a longer
// transaction (a test's).
func readyStaging(ctx context.Context, db DBTX, plans []*tablePlan) error {
	var sql []string
	for _, p := range plans {
		if len(p.rows) == 0 {
			continue
		}
		defs := make([]string, 0, len(p.cols)+1)
		for i, c := range p.cols {
			defs = append(defs, ident(c)+" "+p.sqlTypes[i])
		}
		defs = append(defs, "_ord int4")
		stg := p.stagingName().Sanitize()
		sql = append(sql, fmt.Sprintf("create temp table if not exists %s (%s) on commit delete rows", stg, strings.Join(defs, ", ")),
			"delete from "+stg)
	}
	if len(sql) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, strings.Join(sql, "; ")); err != nil {
		return fmt.Errorf("create staging tables: %w", err)
	}
	return nil
}

// copyInto COPYs the rows idx into the staging table stg, each with its _ord.
func (p *tablePlan) copyInto(ctx context.Context, db DBTX, stg pgx.Identifier, idx []int) (int64, error) {
	ord := len(p.cols)
	cols := append(slices.Clip(p.cols), "_ord")
	vals := make([]any, ord+1) // pgx encodes a row before it asks for the next
	n, err := db.CopyFrom(ctx, stg, cols, pgx.CopyFromSlice(len(idx), func(k int) ([]any, error) {
		i := idx[k]
		copy(vals, p.rows[i])
		vals[ord] = int32(i)
		return vals, nil
	}))
	if err != nil {
		return 0, fmt.Errorf("copy %d rows into staging: %w", len(idx), err)
	}
	return n, nil
}

// merge upserts the staged rows (all of them, or those whose _ord is in idx) into the
// table and counts the rows it inserted and updated. Its SELECT drops the staged rows
// identical to the stored ones (NOT EXISTS an equal row), so an unchanged row is never
// locked or rewritten; the ON CONFLICT's WHERE repeats the comparison for a row another
// writer changed in between.
//
// OFFSET 0 keeps the planner from turning the NOT EXISTS into a join: it stays one
// primary-key lookup per staged row, so a batch costs the same however large the table
// grows. As a join, the planner's default costs pick a hash anti-join that reads the
// whole table for every batch, up to tables of a few hundred thousand rows.
func (p *tablePlan) merge(ctx context.Context, db DBTX, stg pgx.Identifier, idx []int, all bool) (counts, error) {
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
	if p.info.syncedAt {
		insCols += ", synced_at"
		selCols += ", now()"
	}
	same := keyMatch
	conflict := "do nothing"
	if len(nonKey) > 0 {
		same = append(same, fmt.Sprintf("(x.%s) is not distinct from (s.%s)",
			strings.Join(nonKey, ", x."), strings.Join(nonKey, ", s.")))
		sets := make([]string, 0, len(nonKey)+1)
		for _, c := range nonKey {
			sets = append(sets, c+" = excluded."+c)
		}
		if p.info.syncedAt {
			sets = append(sets, "synced_at = excluded.synced_at")
		}
		conflict = fmt.Sprintf("do update set %s where (t.%s) is distinct from (excluded.%s)",
			strings.Join(sets, ", "), strings.Join(nonKey, ", t."), strings.Join(nonKey, ", excluded."))
	}
	where := fmt.Sprintf("not exists (select from %s as x where %s offset 0)", p.target().Sanitize(), strings.Join(same, " and "))
	var args []any
	if !all {
		ords := make([]int32, len(idx))
		for i, v := range idx {
			ords[i] = int32(v)
		}
		where += " and s._ord = any($1)"
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
		p.target().Sanitize(), insCols, selCols, stg.Sanitize(), where, strings.Join(keyCols, ", "), conflict)
	var c counts
	if err := db.QueryRow(ctx, sql, args...).Scan(&c.inserted, &c.updated); err != nil {
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
