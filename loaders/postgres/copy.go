package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The loader writes COPY's binary format itself instead of going through pgx's
// CopyFrom, which encodes every value through its generic plan lookup (a map lookup
// per value, a boxed interface per array element and per appended int64/time) and
// hands the bytes to the connection through an io.Pipe and a second goroutine. The
// converted values have a handful of Go types (see colType.convert), which are encoded
// here directly for the column types they usually go to; every other pairing goes
// through pgx exactly as its CopyFrom would (copyValueGeneric), so the bytes sent are
// the same either way (TestCopyEncodingMatchesPgx).

// copyHeader starts a binary COPY stream: the signature, no flags, no extension area.
const copyHeader = "PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000"

// microsFromUnixToY2K is PostgreSQL's timestamp epoch (2000-01-01) in Unix microseconds.
const microsFromUnixToY2K = 946684800 * 1000000

// copyColumns returns the type OIDs of table's columns cols and the COPY statement that
// loads them. The OIDs come from describing "select cols from table", prepared once
// per connection (pgx's CopyFrom describes the same statement through its statement
// cache), so they always describe the table this connection sees.
func copyColumns(ctx context.Context, tx pgx.Tx, table pgx.Identifier, cols []string) ([]uint32, string, error) {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = ident(c)
	}
	list := strings.Join(quoted, ", ")
	sel := fmt.Sprintf("select %s from %s", list, table.Sanitize())
	sd, err := tx.Prepare(ctx, sel, sel)
	if err != nil {
		return nil, "", fmt.Errorf("describe columns: %w", err)
	}
	if len(sd.Fields) != len(cols) {
		return nil, "", fmt.Errorf("describe columns: %d fields for %d columns", len(sd.Fields), len(cols))
	}
	oids := make([]uint32, len(cols))
	for i, f := range sd.Fields {
		oids[i] = f.DataTypeOID
	}
	return oids, fmt.Sprintf("copy %s ( %s ) from stdin binary;", table.Sanitize(), list), nil
}

// copyReader is the binary COPY stream of n rows, encoded by row as they are read. It
// fills every read completely (until the last), so each CopyData message is full.
// Rows are encoded straight into the caller's buffer (pgx's, 64 KB); only the end of a
// row that does not fit is kept for the next read. An 80 KB buffer of its own per COPY
// was, with a stream's loads running at once, a tenth of the loader's peak heap.
type copyReader struct {
	n, next int
	row     func(buf []byte, i int) ([]byte, error)
	pending []byte // encoded and not read yet: the header, or a row's end
	spill   []byte // pending's reused backing array
}

func newCopyReader(n int, row func(buf []byte, i int) ([]byte, error)) *copyReader {
	return &copyReader{n: n, row: row, pending: []byte(copyHeader)}
}

func (r *copyReader) Read(p []byte) (int, error) {
	filled := copy(p, r.pending)
	r.pending = r.pending[filled:]
	for filled < len(p) && r.next < r.n {
		out, err := r.row(p[filled:filled:len(p)], r.next)
		if err != nil {
			return 0, err
		}
		r.next++
		if len(out) > 0 && &out[0] == &p[filled] {
			filled += len(out)
			continue
		}
		// The row outgrew p, so append moved it: keep what does not fit.
		k := copy(p[filled:], out)
		filled += k
		r.spill = append(r.spill[:0], out[k:]...)
		r.pending = r.spill
	}
	if filled == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return filled, nil
}

// appendNull appends a NULL field.
func appendNull(buf []byte) []byte { return append(buf, 0xff, 0xff, 0xff, 0xff) }

// appendCopyValue appends one field: its length and its binary form for the column
// type oid (NULL for nil, and for nil slices as pgx does).
func appendCopyValue(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return appendNull(buf), nil
	case string:
		if oid == pgtype.TextOID || oid == pgtype.VarcharOID {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(x)))
			return append(buf, x...), nil
		}
	case int64:
		return appendCopyInt(m, buf, oid, x)
	case int32:
		if oid == pgtype.Int4OID {
			return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(buf, 4), uint32(x)), nil
		}
	case bool:
		if oid == pgtype.BoolOID {
			b := byte(0)
			if x {
				b = 1
			}
			return append(binary.BigEndian.AppendUint32(buf, 1), b), nil
		}
	case float64:
		if oid == pgtype.Float8OID {
			return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(buf, 8), math.Float64bits(x)), nil
		}
	case time.Time:
		return appendCopyTime(m, buf, oid, x)
	case json.RawMessage:
		if b, ok := appendCopyJSON(buf, oid, x); ok {
			return b, nil
		}
	case []byte:
		if b, ok := appendCopyJSON(buf, oid, x); ok {
			return b, nil
		}
	case []string:
		if x == nil {
			return appendNull(buf), nil
		}
		if oid == pgtype.TextArrayOID {
			return appendCopyArray(buf, pgtype.TextOID, len(x), func(buf []byte, i int) []byte {
				buf = binary.BigEndian.AppendUint32(buf, uint32(len(x[i])))
				return append(buf, x[i]...)
			}), nil
		}
	case []int64:
		if x == nil {
			return appendNull(buf), nil
		}
		if oid == pgtype.Int8ArrayOID {
			return appendCopyArray(buf, pgtype.Int8OID, len(x), func(buf []byte, i int) []byte {
				return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(buf, 8), uint64(x[i]))
			}), nil
		}
	}
	return copyValueGeneric(m, buf, oid, v)
}

// appendCopyInt appends an integer for a bigint, integer or smallint column (pgx's
// range error when it does not fit).
func appendCopyInt(m *pgtype.Map, buf []byte, oid uint32, n int64) ([]byte, error) {
	switch {
	case oid == pgtype.Int8OID:
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(buf, 8), uint64(n)), nil
	case oid == pgtype.Int4OID && n >= math.MinInt32 && n <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(buf, 4), uint32(int32(n))), nil
	case oid == pgtype.Int2OID && n >= math.MinInt16 && n <= math.MaxInt16:
		return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint32(buf, 2), uint16(int16(n))), nil
	}
	return copyValueGeneric(m, buf, oid, n)
}

// appendCopyTime appends a time for a timestamptz column: microseconds since 2000-01-01 UTC.
func appendCopyTime(m *pgtype.Map, buf []byte, oid uint32, t time.Time) ([]byte, error) {
	if oid != pgtype.TimestamptzOID {
		return copyValueGeneric(m, buf, oid, t)
	}
	us := t.Unix()*1000000 + int64(t.Nanosecond())/1000 - microsFromUnixToY2K
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(buf, 8), uint64(us)), nil
}

// appendCopyJSON appends JSON text for a json or jsonb column (jsonb's binary form is a
// version byte, 1, and the text); ok is false for another column type.
func appendCopyJSON(buf []byte, oid uint32, b []byte) (_ []byte, ok bool) {
	switch {
	case oid != pgtype.JSONOID && oid != pgtype.JSONBOID:
		return buf, false
	case b == nil:
		return appendNull(buf), true
	case oid == pgtype.JSONBOID:
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)+1))
		buf = append(buf, 1)
	default:
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
	}
	return append(buf, b...), true
}

// appendCopyArray appends a one-dimensional array of n non-NULL elements of type elem.
func appendCopyArray(buf []byte, elem uint32, n int, element func(buf []byte, i int) []byte) []byte {
	sp := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 0) // the length, set below
	buf = binary.BigEndian.AppendUint32(buf, 1) // dimensions
	buf = binary.BigEndian.AppendUint32(buf, 0) // no NULLs
	buf = binary.BigEndian.AppendUint32(buf, elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	buf = binary.BigEndian.AppendUint32(buf, 1) // lower bound
	for i := range n {
		buf = element(buf, i)
	}
	binary.BigEndian.PutUint32(buf[sp:], uint32(len(buf)-sp-4))
	return buf
}

// copyValueGeneric appends v as pgx's CopyFrom does (its encodeCopyValue): through the
// type map, and when that fails, by parsing the value's text form as the column type.
func copyValueGeneric(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	sp := len(buf)
	buf = appendNull(buf)
	out, err := m.Encode(oid, pgtype.BinaryFormatCode, v, buf)
	if err != nil {
		out2, err2 := copyValueFromText(m, buf, oid, v)
		if err2 != nil {
			return nil, err
		}
		out = out2
	}
	if out == nil {
		return buf, nil
	}
	binary.BigEndian.PutUint32(out[sp:], uint32(len(out)-sp-4))
	return out, nil
}

// copyValueFromText is pgx's fallback for a value its plans cannot encode for the column
// type (a string for a uuid column): the value's text is scanned as the column type
// and that is encoded.
func copyValueFromText(m *pgtype.Map, buf []byte, oid uint32, v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		text, err := m.Encode(oid, pgtype.TextFormatCode, v, nil)
		if err != nil {
			return nil, errors.New("not a string and cannot be encoded as text")
		}
		s = string(text)
	}
	if typ, ok := m.TypeForOID(oid); ok {
		if _, ok := typ.Codec.(*pgtype.ArrayCodec); ok {
			var arr pgtype.Array[any]
			if err := m.Scan(oid, pgtype.TextFormatCode, []byte(s), &arr); err == nil {
				return m.Encode(oid, pgtype.BinaryFormatCode, arr, buf)
			}
		}
	}
	var x any
	if err := m.Scan(oid, pgtype.TextFormatCode, []byte(s), &x); err != nil {
		return nil, err
	}
	return m.Encode(oid, pgtype.BinaryFormatCode, x, buf)
}
