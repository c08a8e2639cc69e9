package push

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Kind is the SQL type family a destination expects of a column.
type Kind int

// Column kinds.
const (
	Text      Kind = iota // text, varchar, char
	Int                   // smallint, integer, bigint
	TextArray             // text[] or varchar[]
	Time                  // timestamptz
)

var kindNames = map[Kind]string{Text: "text", Int: "an integer (bigint)", TextArray: "text[]", Time: "timestamptz"}

// accepts lists the type OIDs each kind takes.
var accepts = map[Kind][]uint32{
	Text:      {pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID},
	Int:       {pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID},
	TextArray: {pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.BPCharArrayOID},
	Time:      {pgtype.TimestamptzOID},
}

// hints suggest the cast for a common mistyping.
var hints = map[uint32]string{
	pgtype.TimestampOID: " (timestamp without time zone is ambiguous: cast it, e.g. col at time zone 'Europe/Moscow')",
	pgtype.NumericOID:   " (cast it: col::bigint)",
	pgtype.UnknownOID:   " (an untyped literal or NULL: cast it, e.g. null::bigint)",
}

// Column is one column a destination reads from a push's query.
type Column struct {
	Name     string
	Kind     Kind
	Required bool
}

// checkColumns checks the query's result columns against the destination's: a
// required column missing, a column of the wrong type or a column given twice stops the
// push (a configuration error) with a message naming it.
func checkColumns(fields []pgconn.FieldDescription, want []Column) error {
	got := map[string]uint32{}
	var errs []string
	for _, f := range fields {
		if _, dup := got[f.Name]; dup {
			errs = append(errs, fmt.Sprintf("column %s: returned twice", f.Name))
		}
		got[f.Name] = f.DataTypeOID
	}
	for _, c := range want {
		oid, ok := got[c.Name]
		if !ok {
			if c.Required {
				errs = append(errs, fmt.Sprintf("column %s: missing (want %s)", c.Name, kindNames[c.Kind]))
			}
			continue
		}
		if !slices.Contains(accepts[c.Kind], oid) {
			errs = append(errs, fmt.Sprintf("column %s: is %s, want %s%s", c.Name, typeName(oid), kindNames[c.Kind], hints[oid]))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("query: %s", strings.Join(errs, "; "))
	}
	return nil
}

// typeName names a type OID for messages.
func typeName(oid uint32) string {
	if t, ok := pgtype.NewMap().TypeForOID(oid); ok {
		return t.Name
	}
	return fmt.Sprintf("type oid %d", oid)
}

// Row is one row of a push's query, by column name. Its getters return the value and
// whether it is non-NULL; checkColumns has made sure of the types.
type Row struct {
	// N is the row's position in the result, from 1 (for messages about rows without a key).
	N    int
	vals map[string]any
}

// String returns a text column.
func (r Row) String(name string) (string, bool) {
	s, ok := r.vals[name].(string)
	return s, ok
}

// Int returns an integer column.
func (r Row) Int(name string) (int64, bool) {
	switch v := r.vals[name].(type) {
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case int16:
		return int64(v), true
	}
	return 0, false
}

// Strings returns a text[] column; NULL elements are dropped.
func (r Row) Strings(name string) ([]string, bool) {
	v, ok := r.vals[name].([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(v))
	for _, e := range v {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out, true
}

// Time returns a timestamptz column.
func (r Row) Time(name string) (time.Time, bool) {
	t, ok := r.vals[name].(time.Time)
	return t, ok
}

// NewRow builds a row from column values (for writers' tests).
func NewRow(vals map[string]any) Row { return Row{vals: vals} }
