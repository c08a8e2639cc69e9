package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// kind is how the loader converts a Go value for one column type.
type kind int

const (
	kindAny kind = iota // unknown type: the value goes to pgx as it is
	kindText
	kindInt
	kindBool
	kindFloat
	kindNumeric
	kindTime
	kindJSON
	kindTextArray
	kindInt64Array
)

// colType is a parsed stream.Column.Type.
type colType struct {
	kind     kind
	min, max int64 // kindInt range
	// precision and scale of numeric(p,s); precision 0 means unconstrained.
	precision, scale int
}

// parseType maps a column type as written in a migration to its conversion.
func parseType(t string) colType {
	s := strings.ToLower(strings.TrimSpace(t))
	switch s {
	case "text", "varchar", "character varying", "citext":
		return colType{kind: kindText}
	case "bigint", "int8", "bigserial":
		return colType{kind: kindInt, min: math.MinInt64, max: math.MaxInt64}
	case "integer", "int", "int4", "serial":
		return colType{kind: kindInt, min: math.MinInt32, max: math.MaxInt32}
	case "smallint", "int2":
		return colType{kind: kindInt, min: math.MinInt16, max: math.MaxInt16}
	case "boolean", "bool":
		return colType{kind: kindBool}
	case "double precision", "float8", "real", "float4":
		return colType{kind: kindFloat}
	case "timestamptz", "timestamp with time zone", "timestamp", "timestamp without time zone", "date":
		return colType{kind: kindTime}
	case "jsonb", "json":
		return colType{kind: kindJSON}
	case "text[]", "varchar[]":
		return colType{kind: kindTextArray}
	case "bigint[]", "int8[]":
		return colType{kind: kindInt64Array}
	}
	if strings.HasPrefix(s, "numeric") || strings.HasPrefix(s, "decimal") {
		ct := colType{kind: kindNumeric}
		if open := strings.IndexByte(s, '('); open >= 0 {
			args := strings.Split(strings.Trim(s[open:], "() "), ",")
			ct.precision, _ = strconv.Atoi(strings.TrimSpace(args[0]))
			if len(args) > 1 {
				ct.scale, _ = strconv.Atoi(strings.TrimSpace(args[1]))
			}
		}
		return ct
	}
	if strings.HasPrefix(s, "varchar") || strings.HasPrefix(s, "character varying") {
		return colType{kind: kindText}
	}
	return colType{kind: kindAny}
}

// convert turns v into the value pgx encodes for the column, repairing text PostgreSQL
// cannot store (see repairString). cleaned reports whether a repair was made; an error names what is wrong (it becomes
// the reject reason).
func (ct colType) convert(v any) (out any, cleaned bool, err error) {
	if v == nil {
		return nil, false, nil
	}
	switch ct.kind {
	case kindText:
		var s string
		switch x := v.(type) {
		case string:
			// The common case: return the caller's value as is, no re-boxing.
			if storable(x) {
				return v, false, nil
			}
			s = x
		case []byte:
			s = string(x)
		case json.RawMessage:
			s = string(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		case int32:
			s = strconv.FormatInt(int64(x), 10)
		case int:
			s = strconv.Itoa(x)
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			s = strconv.FormatBool(x)
		case time.Time:
			s = x.Format(time.RFC3339Nano)
		default:
			return nil, false, fmt.Errorf("want text, got %T", v)
		}
		s, cleaned = repairString(s)
		return s, cleaned, nil
	case kindInt:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int32:
			n = int64(x)
		case int:
			n = int64(x)
		case float64:
			if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
				return nil, false, fmt.Errorf("value %v is not an integer in range", x)
			}
			n = int64(x)
		default:
			return nil, false, fmt.Errorf("want an integer, got %T %s", v, excerpt(v))
		}
		if n < ct.min || n > ct.max {
			return nil, false, fmt.Errorf("value %d out of range [%d, %d]", n, ct.min, ct.max)
		}
		if _, ok := v.(int64); ok {
			return v, false, nil
		}
		return n, false, nil
	case kindBool:
		if _, ok := v.(bool); ok {
			return v, false, nil
		}
		return nil, false, fmt.Errorf("want a boolean, got %T %s", v, excerpt(v))
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return x, false, nil
		case int64:
			return float64(x), false, nil
		case int32:
			return float64(x), false, nil
		case int:
			return float64(x), false, nil
		}
		return nil, false, fmt.Errorf("want a number, got %T %s", v, excerpt(v))
	case kindNumeric:
		return ct.numeric(v)
	case kindTime:
		t, ok := v.(time.Time)
		if !ok {
			return nil, false, fmt.Errorf("want a time, got %T %s", v, excerpt(v))
		}
		// PostgreSQL's timestamptz spans 4713 BC to 294276 AD.
		if y := t.Year(); y < -4712 || y > 294275 {
			return nil, false, fmt.Errorf("time %s out of range", t.Format(time.RFC3339))
		}
		// PostgreSQL keeps microseconds. Truncate as pgx's encoder does, so that a key's
		// text form (child delete, deletions) names the stored value exactly and two times
		// that differ only in nanoseconds deduplicate as the one key they become.
		if t.Nanosecond()%1000 != 0 {
			return t.Truncate(time.Microsecond), false, nil
		}
		return v, false, nil
	case kindJSON:
		var b []byte
		switch x := v.(type) {
		case json.RawMessage:
			b = x
		case []byte:
			b = x
		case string:
			b = []byte(x)
		default:
			return nil, false, fmt.Errorf("want JSON, got %T", v)
		}
		// Not validated here: json.Valid would cost as much as the rest of the
		// conversion, and PostgreSQL validates jsonb anyway; a row with broken JSON is
		// isolated and rejected with PostgreSQL's message.
		if c, ok := repairJSON(b); ok {
			return c, true, nil
		}
		if _, ok := v.(string); ok {
			return b, false, nil
		}
		return v, false, nil
	case kindTextArray:
		a, ok := v.([]string)
		if !ok {
			return nil, false, fmt.Errorf("want a text array, got %T", v)
		}
		var out []string // copied only when an element changes, the caller's slice stays intact
		for i, s := range a {
			if c, ok := repairString(s); ok {
				if out == nil {
					out = append([]string(nil), a...)
				}
				out[i], cleaned = c, true
			}
		}
		if out == nil {
			return v, false, nil
		}
		return out, cleaned, nil
	case kindInt64Array:
		if _, ok := v.([]int64); ok {
			return v, false, nil
		}
		return nil, false, fmt.Errorf("want a bigint array, got %T", v)
	}
	if s, ok := v.(string); ok {
		s, cleaned = repairString(s)
		return s, cleaned, nil
	}
	return v, false, nil
}

// numeric converts a decimal string or a number, checking numeric(p,s)'s integer digits.
func (ct colType) numeric(v any) (any, bool, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false, fmt.Errorf("value %v is not a finite number", x)
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		s = strconv.FormatInt(x, 10)
	case int32:
		s = strconv.FormatInt(int64(x), 10)
	case int:
		s = strconv.Itoa(x)
	case json.Number:
		s = x.String()
	case pgtype.Numeric:
		return v, false, nil // converted already (a row loaded twice)
	default:
		return nil, false, fmt.Errorf("want a decimal, got %T", v)
	}
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil || !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite {
		return nil, false, fmt.Errorf("value %s is not a decimal number", excerpt(s))
	}
	if ct.precision > 0 {
		// Digits left of the point must fit precision-scale; rounding the fraction to
		// scale is left to PostgreSQL (the rare carry is caught by the row fallback).
		digits := n.Int.String()
		digits = strings.TrimLeft(strings.TrimPrefix(digits, "-"), "0")
		intDigits := len(digits) + int(n.Exp)
		if intDigits > ct.precision-ct.scale {
			return nil, false, fmt.Errorf("value %s out of range for numeric(%d,%d)", excerpt(s), ct.precision, ct.scale)
		}
	}
	return n, false, nil
}

// excerpt renders v for an error message, cut to a readable length.
func excerpt(v any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(v))
	if len(s) > 60 {
		s = s[:57] + `..."`
	}
	return s
}

// keyText renders a converted key value as text PostgreSQL casts back to the column
// type, for the key arrays of the child-delete and deletion queries.
func keyText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case time.Time:
		return x.Format(time.RFC3339Nano), true
	case pgtype.Numeric:
		b, err := x.MarshalJSON()
		return string(b), err == nil
	}
	return "", false
}
