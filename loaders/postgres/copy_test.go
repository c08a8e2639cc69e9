package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"
)

// TestCopyEncodingMatchesPgx checks that the direct encodings send the bytes pgx's
// CopyFrom would (its encodeCopyValue, which copyValueGeneric is), and fail where it
// fails.
func TestCopyEncodingMatchesPgx(t *testing.T) {
	t.Parallel()
	m := pgtype.NewMap()
	var numeric pgtype.Numeric
	require.NoError(t, numeric.Scan("-12.50"))
	zone := time.FixedZone("x", -5*3600-1800)
	values := []any{
		nil,
		"", "hello", "ünïcödé ✓", "12", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "{a,b}",
		int64(0), int64(-1), int64(255), int64(256), int64(math.MaxInt16), int64(math.MaxInt16 + 1),
		int64(math.MinInt16 - 1), int64(math.MaxInt32), int64(math.MaxInt32 + 1), int64(math.MinInt32),
		int64(math.MinInt32 - 1), int64(math.MaxInt64), int64(math.MinInt64),
		int32(0), int32(-7), int32(math.MaxInt32),
		true, false,
		0.0, math.Copysign(0, -1), 1.5, -2.25e300, math.Inf(1), math.Inf(-1), math.NaN(),
		time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(1969, 7, 20, 20, 17, 40, 1000, zone),
		time.Date(-4000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.Local),
		time.Time{},
		json.RawMessage(`{"a":[1,2,{"b":null}]}`), json.RawMessage{}, json.RawMessage(nil),
		[]byte(`"x"`), []byte{}, []byte(nil),
		[]string{"a", "", "ü"}, []string{}, []string(nil),
		[]int64{1, -1, math.MaxInt64}, []int64{}, []int64(nil),
		numeric,
	}
	oids := []uint32{
		pgtype.TextOID, pgtype.VarcharOID, pgtype.Int8OID, pgtype.Int4OID, pgtype.Int2OID,
		pgtype.BoolOID, pgtype.Float8OID, pgtype.Float4OID, pgtype.TimestamptzOID, pgtype.TimestampOID,
		pgtype.DateOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.TextArrayOID, pgtype.VarcharArrayOID,
		pgtype.Int8ArrayOID, pgtype.Int4ArrayOID, pgtype.NumericOID, pgtype.UUIDOID, pgtype.ByteaOID,
	}
	prefix := []byte("prefix")
	for _, oid := range oids {
		for _, v := range values {
			name := fmt.Sprintf("oid %d %T %v", oid, v, v)
			want, wantErr := copyValueGeneric(m, append([]byte(nil), prefix...), oid, v)
			got, gotErr := appendCopyValue(m, append([]byte(nil), prefix...), oid, v)
			if wantErr != nil {
				require.Error(t, gotErr, name)
				require.Equal(t, wantErr.Error(), gotErr.Error(), name)
				continue
			}
			require.NoError(t, gotErr, name)
			require.Equal(t, want, got, name)
			if n, ok := v.(int64); ok {
				got, gotErr = appendCopyInt(m, append([]byte(nil), prefix...), oid, n)
				require.NoError(t, gotErr, name)
				require.Equal(t, want, got, name)
			}
			if tm, ok := v.(time.Time); ok {
				got, gotErr = appendCopyTime(m, append([]byte(nil), prefix...), oid, tm)
				require.NoError(t, gotErr, name)
				require.Equal(t, want, got, name)
			}
		}
	}
}

// TestCopyReaderFillsReads checks that the stream is the header and the rows in order,
// whatever the read size, and that reads are filled up to the last.
func TestCopyReaderFillsReads(t *testing.T) {
	t.Parallel()
	row := func(buf []byte, i int) ([]byte, error) { return fmt.Appendf(buf, "<row %d>", i), nil }
	var want []byte
	want = append(want, copyHeader...)
	for i := range 1000 {
		want, _ = row(want, i)
	}
	for _, size := range []int{1, 7, 100, 4096, 65531, 1 << 20} {
		r := newCopyReader(1000, row)
		var got []byte
		p := make([]byte, size)
		for {
			n, err := r.Read(p)
			got = append(got, p[:n]...)
			if err != nil {
				break
			}
			if len(got) < len(want) {
				require.Equal(t, size, n, "read of %d", size)
			}
		}
		require.Equal(t, want, got, "read size %d", size)
	}
}
