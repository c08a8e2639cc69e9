package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// rowHashColumn is the column in which the loader keeps each row's hash (see the
// package doc). A table without it is loaded by comparing every row in SQL.
const rowHashColumn = "_row_hash"

// rowHashVersion names the encoding below. Changing the encoding must change it: every
// stored hash then differs once, those rows are compared in SQL and their hashes
// rewritten, and nothing is skipped on the strength of an old encoding.
const rowHashVersion = "crmsync row hash v1"

// Type tags of the hash encoding, one before every value, so that values of different
// types (or a NULL and an empty string) never encode alike.
const (
	tagNull byte = iota
	tagText
	tagInt
	tagBool
	tagFloat
	tagTime
	tagJSON
	tagTextArray
	tagIntArray
	tagNumeric
	tagOther
)

// rowHasher computes rows' hashes: xxhash64 (stable across processes and machines,
// unlike hash/maphash) over a canonical encoding of the converted values. Every value
// is a type tag followed by a fixed-width number or a length-prefixed byte string, so
// the encoding of a row is injective: two rows hash alike only by a 64-bit collision.
// A row is encoded into one reused buffer and hashed in one call, which is several
// times faster than feeding the digest value by value.
type rowHasher struct {
	seed [8]byte // the table's column names and types, with rowHashVersion
	buf  []byte
}

// newRowHasher returns a hasher for rows of p's table. The seed covers the column
// names and types, so that a changed column list re-checks every row once.
func newRowHasher(p *tablePlan) *rowHasher {
	d := xxhash.New()
	d.WriteString(rowHashVersion)
	for _, c := range p.table.Columns {
		d.Write([]byte{0})
		d.WriteString(c.Name)
		d.Write([]byte{0})
		d.WriteString(c.Type)
	}
	h := &rowHasher{buf: make([]byte, 0, 1024)}
	binary.LittleEndian.PutUint64(h.seed[:], d.Sum64())
	return h
}

// sum returns the hash of one converted row, as the int64 PostgreSQL's bigint holds.
func (h *rowHasher) sum(row []any) int64 {
	h.buf = append(h.buf[:0], h.seed[:]...)
	for _, v := range row {
		h.value(v)
	}
	return int64(xxhash.Sum64(h.buf))
}

// value appends one converted value (see colType.convert for the Go types it returns).
func (h *rowHasher) value(v any) {
	switch x := v.(type) {
	case nil:
		h.buf = append(h.buf, tagNull)
	case string:
		h.str(tagText, x)
	case int64:
		h.num(tagInt, uint64(x))
	case bool:
		b := uint64(0)
		if x {
			b = 1
		}
		h.num(tagBool, b)
	case float64:
		h.num(tagFloat, math.Float64bits(x))
	case time.Time:
		// The instant and the zone offset: a timestamp (without time zone) or date
		// column stores the wall clock, which the two determine together.
		_, off := x.Zone()
		h.num(tagTime, uint64(x.UnixMicro()))
		h.num(tagTime, uint64(int64(off)))
	case json.RawMessage:
		h.bytes(tagJSON, x)
	case []byte:
		h.bytes(tagJSON, x)
	case []string:
		if x == nil {
			h.buf = append(h.buf, tagNull)
			return
		}
		h.num(tagTextArray, uint64(len(x)))
		for _, s := range x {
			h.str(tagText, s)
		}
	case []int64:
		if x == nil {
			h.buf = append(h.buf, tagNull)
			return
		}
		h.num(tagIntArray, uint64(len(x)))
		for _, n := range x {
			h.num(tagInt, uint64(n))
		}
	case pgtype.Numeric:
		if !x.Valid || x.Int == nil {
			h.buf = append(h.buf, tagNull)
			return
		}
		digits := x.Int.String()
		h.str(tagNumeric, digits)
		h.num(tagNumeric, uint64(int64(x.Exp)))
	default:
		// A value of a column type the loader does not convert: its printed form.
		// Unstable forms (pointers) only make the row be compared in SQL every time.
		h.str(tagOther, fmt.Sprintf("%T %#v", v, v))
	}
}

// num appends a tag and a fixed-width number.
func (h *rowHasher) num(t byte, n uint64) {
	h.buf = binary.LittleEndian.AppendUint64(append(h.buf, t), n)
}

// str appends a tag, a length and the string.
func (h *rowHasher) str(t byte, s string) {
	h.num(t, uint64(len(s)))
	h.buf = append(h.buf, s...)
}

// bytes appends a tag, a length and the bytes; nil is NULL.
func (h *rowHasher) bytes(t byte, b []byte) {
	if b == nil {
		h.buf = append(h.buf, tagNull)
		return
	}
	h.num(t, uint64(len(b)))
	h.buf = append(h.buf, b...)
}

// rowHash returns the hash of row i, computing it on first use. The COPY of new rows
// asks for each row's hash as it encodes the row, so hashing overlaps with the server
// writing the rows sent before.
func (p *tablePlan) rowHash(i int) int64 {
	if p.hashes == nil {
		p.hashes = make([]int64, len(p.rows))
		p.hashed = make([]bool, len(p.rows))
		p.hasher = newRowHasher(p)
	}
	if !p.hashed[i] {
		p.hashes[i], p.hashed[i] = p.hasher.sum(p.rows[i]), true
	}
	return p.hashes[i]
}

// rowHashes returns the hash of every row of the plan.
func (p *tablePlan) rowHashes() []int64 {
	for i := range p.rows {
		p.rowHash(i)
	}
	return p.hashes
}

// rowState is what the hash probe found for one row of a batch.
type rowState uint8

const (
	// rowSame: stored with the same hash, so with the same values: not sent at all.
	rowSame rowState = iota
	// rowNew: the key is not in the table.
	rowNew
	// rowDiffers: stored with another hash: the values changed (or, rarely, the same
	// values were sent in another form, such as JSON with its keys reordered). Staged
	// and merged.
	rowDiffers
	// rowNoHash: stored without a hash (written before the column existed, or cleared
	// by hand): staged and compared in SQL before the merge.
	rowNoHash
)

// probeHashes looks up every row's key and stored hash in one query. Only rows whose
// stored hash differs come back (a left join, so absent keys too): an unchanged batch
// costs one primary-key lookup per row and a near-empty answer, and none of its values
// travel to the server.
func (p *tablePlan) probeHashes(ctx context.Context, tx pgx.Tx) ([]rowState, error) {
	args := make([]any, 0, len(p.keyIdx)+1)
	names := make([]string, 0, len(p.keyIdx)+1)
	conds := make([]string, len(p.keyIdx))
	for j, ki := range p.keyIdx {
		args = append(args, p.keys[j])
		names = append(names, fmt.Sprintf("k%d", j))
		conds[j] = fmt.Sprintf("t.%s = p.k%d::%s", ident(p.cols[ki]), j, p.table.Columns[ki].Type)
	}
	args = append(args, p.rowHashes())
	names = append(names, "h")
	sql := fmt.Sprintf(`select p.ord, t.%[1]s is not null, t.%[7]s is null
		from unnest(%[2]s, $%[3]d::int8[]) with ordinality as p(%[4]s, ord)
		left join %[5]s as t on %[6]s
		where t.%[7]s is distinct from p.h`,
		ident(p.cols[p.keyIdx[0]]), placeholders(1, len(p.keyIdx), "text[]"), len(args),
		strings.Join(names, ", "), p.target().Sanitize(), strings.Join(conds, " and "), ident(rowHashColumn))
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("look up keys and hashes: %w", err)
	}
	states := make([]rowState, len(p.rows)) // rowSame unless listed
	var (
		ord            int64
		stored, noHash bool
	)
	_, err = pgx.ForEachRow(rows, []any{&ord, &stored, &noHash}, func() error {
		switch {
		case !stored:
			states[ord-1] = rowNew
		case noHash:
			states[ord-1] = rowNoHash
		default:
			states[ord-1] = rowDiffers
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up keys and hashes: %w", err)
	}
	return states, nil
}

// refreshHashes stores the hash of staged rows that the merge found equal to the stored
// ones but whose stored hash differs (NULL before the column existed, or an earlier
// encoding of the same values), so that the next batch skips them. Only the hash
// changes: synced_at stays, since the values did not change. Careful, it runs in a
// savepoint and is best effort: when PostgreSQL refuses the update (a CHECK constraint
// the stored row no longer meets), the rows keep their old hash and are compared again
// next time. Not careful, a refusal aborts the attempt (Load then runs a careful one).
func (p *tablePlan) refreshHashes(ctx context.Context, tx pgx.Tx, stg pgx.Identifier, careful bool) (int64, error) {
	var keyMatch, nonKey []string
	for i, c := range p.cols {
		if p.isKey(i) {
			keyMatch = append(keyMatch, "t."+ident(c)+" = s."+ident(c))
		} else {
			nonKey = append(nonKey, ident(c))
		}
	}
	same := "true"
	if len(nonKey) > 0 {
		same = fmt.Sprintf("(t.%s) is not distinct from (s.%s)",
			strings.Join(nonKey, ", t."), strings.Join(nonKey, ", s."))
	}
	h := ident(rowHashColumn)
	sql := fmt.Sprintf(`update %[1]s as t set %[2]s = s.%[2]s from %[3]s as s
		where %[4]s and %[5]s and t.%[2]s is distinct from s.%[2]s`,
		p.target().Sanitize(), h, stg.Sanitize(), strings.Join(keyMatch, " and "), same)
	if !careful {
		tag, err := tx.Exec(ctx, sql)
		if err != nil {
			return 0, fmt.Errorf("refresh row hashes: %w", err)
		}
		return tag.RowsAffected(), nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("savepoint: %w", err)
	}
	tag, err := sp.Exec(ctx, sql)
	if err != nil {
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			return 0, fmt.Errorf("refresh row hashes: %w (and rollback to savepoint: %v)", err, rbErr)
		}
		if isDataError(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("refresh row hashes: %w", err)
	}
	if err := sp.Commit(ctx); err != nil {
		return 0, fmt.Errorf("release savepoint: %w", err)
	}
	return tag.RowsAffected(), nil
}
