// Package lenient decodes API records whose field types wander (a number sent as a
// string, a boolean as "True", a time in several layouts) with encoding/json: a record's
// DTO declares its fields with the types below, and Decode unmarshals one record into it.
//
// Every type reads null and a missing field as absent (Valid false), and but for String
// also "" and the sentinel "NOT_DEFINED" (Leeloo's word for unknown); String keeps both
// as text and leaves that choice to the caller. A value no coercion fits (an object for a name, "a lot" for
// a price) fails the record with a *FieldError naming the field's path, which the
// extractor turns into a stream.Reject; the rest of the page loads. Fields a DTO does not
// declare are ignored here: the extractor stores the record's raw JSON as received.
package lenient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// NotDefined is the sentinel Leeloo sends instead of null for unknown values.
const NotDefined = "NOT_DEFINED"

// FieldError is a record that could not be decoded: Field is the JSON path of the
// offending field ("last_message.body"), "" when the record itself is not an object.
type FieldError struct {
	Field string
	Want  string // what the field should hold: "an integer"
	Got   string // the start of the value that was sent
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "not a JSON object: " + e.Got
	}
	return "field " + e.Field + ": want " + e.Want + ", got " + e.Got
}

// Decode unmarshals one record, which must be a JSON object, into dst (a pointer to a
// DTO). A field that cannot be decoded gives a *FieldError.
func Decode(raw []byte, dst any) error {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return &FieldError{Got: Excerpt(raw)}
	}
	err := json.Unmarshal(raw, dst)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// A Wanter puts itself in Type and an excerpt in Value; encoding/json's own
		// mismatches (a string for a []ref) put the JSON kind in Value.
		fe := &FieldError{Field: te.Field, Want: kindOf(te.Type), Got: te.Value}
		if w, ok := reflect.Zero(te.Type).Interface().(Wanter); ok {
			fe.Want = w.Want()
		}
		return fe
	}
	if err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

// kindOf says what a plain Go type takes, in JSON's words.
func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return t.String()
}

// Body unmarshals a response body into v. A body that is not well-formed JSON (cut short)
// gives an error wrapping apiclient.ErrMalformed, which apiclient.Client.GetDecode
// retries; a well-formed body of another shape gives an error that does not.
func Body(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", apiclient.ErrMalformed, err)
	}
	return err
}

// Wanter names what a field type accepts, for FieldError.Want. A type of another
// package joins in by implementing it and returning Mismatch from its UnmarshalJSON.
type Wanter interface{ Want() string }

// Mismatch is the error an UnmarshalJSON of a Wanter returns: encoding/json fills in the
// field's path (it does so for *json.UnmarshalTypeError only) and Decode turns it into a
// FieldError.
func Mismatch[T Wanter](b []byte) error {
	return &json.UnmarshalTypeError{Value: Excerpt(b), Type: reflect.TypeFor[T]()}
}

// Excerpt is the start of a raw value for a reject reason (the whole record is stored
// beside the reason).
func Excerpt(raw []byte) string {
	b := bytes.TrimSpace(raw)
	// 61 runes take at most 61*UTFMax bytes: converting the whole value only to cut it
	// would cost four times its size (a 40 MiB field, 160 MiB).
	r := []rune(string(b[:min(len(b), 61*utf8.UTFMax)]))
	if len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return string(r)
}

// absent reports null, or no value at all (a member missing from a map).
func absent(b []byte) bool {
	return len(b) == 0 || string(b) == "null"
}

// IsNull reports a missing value or an explicit null.
func IsNull(raw []byte) bool { return absent(bytes.TrimSpace(raw)) }

// JSON is a jsonb column value: the raw JSON, or nil for null or absent.
func JSON(raw json.RawMessage) any {
	if absent(bytes.TrimSpace(raw)) {
		return nil
	}
	return raw
}

// scalar returns a JSON string's value, or a number's or boolean's text; ok is false for
// null, objects and arrays.
func scalar(b []byte) (s string, ok bool) {
	switch {
	case absent(b) || b[0] == '{' || b[0] == '[':
		return "", false
	case b[0] == '"' && len(b) >= 2:
		if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), true // without escapes, the text is as it stands
		}
		if json.Unmarshal(b, &s) != nil {
			return "", false
		}
		return s, true
	}
	return string(b), true
}

// text is scalar trimmed, with "" and NotDefined reported as absent (null is absent
// too); bad is true for an object or array.
func text(b []byte) (s string, present, bad bool) {
	if absent(b) {
		return "", false, false
	}
	s, ok := scalar(b)
	if !ok {
		return "", false, true
	}
	s = strings.TrimSpace(s)
	if s == "" || s == NotDefined {
		return "", false, false
	}
	return s, true, false
}

// Opt is a value that may be absent: Valid is false for null and a missing field (and,
// but for String, for "" and NotDefined).
type Opt[T any] struct {
	V     T
	Valid bool
}

// Value is V for a column, or nil (SQL NULL) when absent.
func (o Opt[T]) Value() any {
	if !o.Valid {
		return nil
	}
	return o.V
}

// String is a text field; a number or boolean is kept as its JSON text. "" stays "".
type String struct{ Opt[string] }

// Want implements Wanter.
func (String) Want() string { return "a string" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *String) UnmarshalJSON(b []byte) error {
	*f = String{}
	if absent(b) {
		return nil
	}
	s, ok := scalar(b)
	if !ok {
		return Mismatch[String](b)
	}
	f.V, f.Valid = s, true
	return nil
}

// Time is a timestamp: a string in one of apiclient.ParseTime's layouts, or a number of
// Unix milliseconds (seconds when small). Raw keeps the text as sent (a string unquoted,
// also when blank), for keys and comparisons that must not depend on parsing.
type Time struct {
	T     time.Time
	Raw   string
	Valid bool
}

// Want implements Wanter.
func (Time) Want() string { return "a timestamp" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Time) UnmarshalJSON(b []byte) error {
	*f = Time{}
	s, ok, bad := text(b)
	if bad || ok && b[0] != '"' && !isNumber(b) {
		return Mismatch[Time](b)
	}
	f.Raw, _ = scalar(b)
	if !ok {
		return nil
	}
	if b[0] == '"' {
		t, err := apiclient.ParseTime(s)
		if err != nil {
			*f = Time{}
			return Mismatch[Time](b)
		}
		f.T, f.Valid = t, true
		return nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		*f = Time{}
		return Mismatch[Time](b)
	}
	if math.Abs(n) < 1e11 { // seconds; milliseconds are 13 digits for current dates
		n *= 1000
	}
	f.T, f.Valid = time.UnixMilli(int64(n)).UTC(), true
	return nil
}

func isNumber(b []byte) bool { return b[0] == '-' || b[0] >= '0' && b[0] <= '9' }

// Value is the time.Time for a timestamptz column, or nil.
func (f Time) Value() any {
	if !f.Valid {
		return nil
	}
	return f.T
}

// Number is a numeric field kept as its exact decimal text (money must not pass through
// float64); a string holding a number is accepted.
type Number struct{ Opt[string] }

// Want implements Wanter.
func (Number) Want() string { return "a number" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Number) UnmarshalJSON(b []byte) error {
	*f = Number{}
	s, ok, bad := text(b)
	if bad || ok && !isDecimal(s) {
		return Mismatch[Number](b)
	}
	f.V, f.Valid = s, ok
	return nil
}

// isDecimal reports whether s is a finite decimal number PostgreSQL's numeric accepts.
func isDecimal(s string) bool {
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
		return false
	}
	// ParseFloat also takes hex floats, "Inf", underscores: numeric takes none of them.
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+' || r == 'e' || r == 'E')
	}) < 0
}

// Int is a whole number; "120", 120 and 120.0 are accepted, fractions are not.
type Int struct{ Opt[int64] }

// Want implements Wanter.
func (Int) Want() string { return "an integer" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Int) UnmarshalJSON(b []byte) error {
	*f = Int{}
	s, ok, bad := text(b)
	if !ok && !bad {
		return nil
	}
	n, err := parseInt(s)
	if bad || err != nil {
		return Mismatch[Int](b)
	}
	f.V, f.Valid = n, true
	return nil
}

func parseInt(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return int64(x), nil
}

// Int32 is an Int for an integer column: a value out of its range fails here rather than
// at load time. Value is still an int64.
type Int32 struct{ Int }

// Want implements Wanter.
func (Int32) Want() string { return "a 32-bit integer" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Int32) UnmarshalJSON(b []byte) error {
	if err := f.Int.UnmarshalJSON(b); err != nil {
		return err
	}
	if f.V < math.MinInt32 || f.V > math.MaxInt32 {
		*f = Int32{}
		return Mismatch[Int32](b)
	}
	return nil
}

// Bool is a boolean; also "true"/"false" in any case, 1/0 and "yes"/"no", as strings or
// numbers.
type Bool struct{ Opt[bool] }

// Want implements Wanter.
func (Bool) Want() string { return "a boolean" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Bool) UnmarshalJSON(b []byte) error {
	*f = Bool{}
	s, ok, bad := text(b)
	if !ok && !bad {
		return nil
	}
	switch strings.ToLower(s) {
	case "true", "1", "yes", "y":
		f.V, f.Valid = true, true
	case "false", "0", "no", "n":
		f.Valid = true
	default:
		return Mismatch[Bool](b)
	}
	return nil
}

// Strings is a list of texts (tags): numbers are kept as their text, null elements are
// dropped, a single string is a list of one. An empty list is an empty slice, not NULL.
type Strings struct{ Opt[[]string] }

// Want implements Wanter.
func (Strings) Want() string { return "an array of strings" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Strings) UnmarshalJSON(b []byte) error {
	*f = Strings{}
	if absent(b) {
		return nil
	}
	list := b
	if b[0] != '[' {
		list = append(append([]byte{'['}, b...), ']')
	}
	v, err := present(list, func(s String) (string, bool) { return s.V, s.Valid })
	if err != nil {
		return Mismatch[Strings](b)
	}
	f.V, f.Valid = v, true
	return nil
}

// present decodes the array b of E and returns the values of its present elements.
func present[E, V any](b []byte, get func(E) (V, bool)) ([]V, error) {
	var items []E
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, err
	}
	out := make([]V, 0, len(items))
	for _, it := range items {
		if v, ok := get(it); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Ints is a list of whole numbers (numeric strings accepted); null elements are dropped.
type Ints struct{ Opt[[]int64] }

// Want implements Wanter.
func (Ints) Want() string { return "an array of integers" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Ints) UnmarshalJSON(b []byte) error {
	*f = Ints{}
	if absent(b) {
		return nil
	}
	if b[0] != '[' {
		return Mismatch[Ints](b)
	}
	v, err := present(b, func(n Int) (int64, bool) { return n.V, n.Valid })
	if err != nil {
		return Mismatch[Ints](b)
	}
	f.V, f.Valid = v, true
	return nil
}

// Object is a nested object decoded into T; null leaves it absent. A field of T that
// cannot be decoded is named by its full path ("last_message.body").
type Object[T any] struct{ Opt[T] }

// Want implements Wanter.
func (Object[T]) Want() string { return "an object" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *Object[T]) UnmarshalJSON(b []byte) error {
	*f = Object[T]{}
	var err error
	f.Valid, err = nested[Object[T]](b, '{', &f.V)
	return err
}

// nested decodes b, which must open with open ('{' or '['), into v; ok is false for null.
func nested[W Wanter](b []byte, open byte, v any) (ok bool, err error) {
	if absent(b) {
		return false, nil
	}
	if b[0] != open {
		return false, Mismatch[W](b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, err
	}
	return true, nil
}

// List is an array of T (lenient types, Object, …); null leaves it absent.
type List[T any] struct{ Opt[[]T] }

// Want implements Wanter.
func (List[T]) Want() string { return "an array" }

// UnmarshalJSON implements json.Unmarshaler.
func (f *List[T]) UnmarshalJSON(b []byte) error {
	*f = List[T]{}
	var err error
	f.Valid, err = nested[List[T]](b, '[', &f.V)
	return err
}
