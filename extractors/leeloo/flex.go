package leeloo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/internal/phones"
	"github.com/crmsync/crmsync/internal/apiclient"
)

// The flexible field types below never fail json.Unmarshal: a value of a type they cannot
// coerce marks the field bad instead, so that badField can name the field in the reject
// reason (encoding/json would only report that some UnmarshalJSON failed). null, a
// missing field, "" and Leeloo's "NOT_DEFINED" sentinel all become NULL.

// notDefined is the sentinel Leeloo sends instead of null for unknown emails and phones.
const notDefined = "NOT_DEFINED"

// badMarker is implemented by every flexible type.
type badMarker interface{ isBad() bool }

// FlexString is a text field that also accepts a number or a boolean (kept as its JSON text).
type FlexString struct {
	V     string
	Valid bool
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	*f = FlexString{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '"':
		// Shared with the body: the rows keep the body anyway (their raw column is a
		// sub-slice of it), so copying would only double the text. What a run keeps
		// longer, such as ids in maps, is cloned where it is kept.
		s, err := apiclient.UnquoteShared(b)
		if err != nil {
			f.Bad = true
			return nil
		}
		f.V, f.Valid = s, true
	case b[0] == '{' || b[0] == '[':
		f.Bad = true
	default: // number, true, false
		f.V, f.Valid = string(b), true
	}
	return nil
}

func (f FlexString) isBad() bool { return f.Bad }

// Value is the string for a typed column: nil for null, a missing field and NOT_DEFINED
// ("" stays "": an empty system message is not an unknown one).
func (f FlexString) Value() any {
	if !f.Valid || f.V == notDefined {
		return nil
	}
	return f.V
}

// Text is the string, "" when absent (Value's string, without boxing it).
func (f FlexString) Text() string {
	if !f.Valid || f.V == notDefined {
		return ""
	}
	return f.V
}

// FlexTime is a timestamp field parsed with apiclient.ParseTime; a number is read as Unix
// milliseconds (or seconds when small).
type FlexTime struct {
	T     time.Time
	Valid bool
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexTime) UnmarshalJSON(b []byte) error {
	*f = FlexTime{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '"':
		if t, ok := apiclient.ParseTimeLiteral(b); ok { // the usual case, without a string
			f.T, f.Valid = t, true
			return nil
		}
		s, err := apiclient.Unquote(b)
		if err != nil {
			f.Bad = true
			return nil
		}
		s = strings.TrimSpace(s)
		if s == "" || s == notDefined {
			return nil
		}
		t, err := apiclient.ParseTime(s)
		if err != nil {
			f.Bad = true
			return nil
		}
		f.T, f.Valid = t, true
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		n, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			f.Bad = true
			return nil
		}
		if math.Abs(n) < 1e11 { // seconds; milliseconds are 13 digits for current dates
			n *= 1000
		}
		f.T, f.Valid = time.UnixMilli(int64(n)).UTC(), true
	default:
		f.Bad = true
	}
	return nil
}

func (f FlexTime) isBad() bool { return f.Bad }

// Value is the time.Time for a timestamptz column, or nil.
func (f FlexTime) Value() any {
	if !f.Valid {
		return nil
	}
	return f.T
}

// FlexNumber is a numeric field kept as its exact decimal text (money must not pass through
// float64); a string holding a number is accepted.
type FlexNumber struct {
	V     string
	Valid bool
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexNumber) UnmarshalJSON(b []byte) error {
	*f = FlexNumber{}
	b = bytes.TrimSpace(b)
	s := string(b)
	switch {
	case len(b) == 0 || s == "null":
		return nil
	case b[0] == '"':
		var err error
		if s, err = apiclient.Unquote(b); err != nil {
			f.Bad = true
			return nil
		}
		s = strings.TrimSpace(s)
		if s == "" || s == notDefined {
			return nil
		}
	case b[0] == '{' || b[0] == '[' || s == "true" || s == "false":
		f.Bad = true
		return nil
	}
	if !isDecimal(s) {
		f.Bad = true
		return nil
	}
	f.V, f.Valid = s, true
	return nil
}

func (f FlexNumber) isBad() bool { return f.Bad }

// Value is the decimal string for a numeric column, or nil.
func (f FlexNumber) Value() any {
	if !f.Valid {
		return nil
	}
	return f.V
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

// FlexInt is an integer field; "120", 120 and 120.0 are accepted.
type FlexInt struct {
	V     int64
	Valid bool
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	var n FlexNumber
	_ = n.UnmarshalJSON(b)
	*f = FlexInt{Bad: n.Bad}
	if !n.Valid {
		return nil
	}
	if i, err := strconv.ParseInt(n.V, 10, 64); err == nil {
		f.V, f.Valid = i, true
		return nil
	}
	x, err := strconv.ParseFloat(n.V, 64)
	if err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<62 {
		f.Bad = true
		return nil
	}
	f.V, f.Valid = int64(x), true
	return nil
}

func (f FlexInt) isBad() bool { return f.Bad }

// Value is the int64 for a bigint column, or nil.
func (f FlexInt) Value() any {
	if !f.Valid {
		return nil
	}
	return f.V
}

// FlexBool is a boolean field; "true"/"false", 1/0 are accepted.
type FlexBool struct {
	V     bool
	Valid bool
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexBool) UnmarshalJSON(b []byte) error {
	*f = FlexBool{}
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	switch strings.ToLower(s) {
	case "null", "", strings.ToLower(notDefined):
	case "true", "1":
		f.V, f.Valid = true, true
	case "false", "0":
		f.Valid = true
	default:
		f.Bad = true
	}
	return nil
}

func (f FlexBool) isBad() bool { return f.Bad }

// Value is the bool for a boolean column, or nil.
func (f FlexBool) Value() any {
	if !f.Valid {
		return nil
	}
	return f.V
}

// FlexStrings is a list of strings (tags); a single string is read as a list of one, null
// elements are dropped, numbers are kept as their text.
type FlexStrings struct {
	V     []string
	Valid bool
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexStrings) UnmarshalJSON(b []byte) error {
	*f = FlexStrings{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '[':
		items, err := apiclient.SplitArray(b)
		if err != nil {
			f.Bad = true
			return nil
		}
		f.V, f.Valid = make([]string, 0, len(items)), true
		for _, it := range items {
			var s FlexString
			_ = s.UnmarshalJSON(it)
			if s.Bad {
				f.Bad = true
				return nil
			}
			if s.Valid {
				f.V = append(f.V, s.V)
			}
		}
	default:
		var s FlexString
		_ = s.UnmarshalJSON(b)
		if s.Bad {
			f.Bad = true
			return nil
		}
		if s.Valid {
			f.V, f.Valid = []string{s.V}, true
		}
	}
	return nil
}

func (f FlexStrings) isBad() bool { return f.Bad }

// Value is the []string for a text[] column, or nil.
func (f FlexStrings) Value() any {
	if !f.Valid {
		return nil
	}
	return f.V
}

// JSONValue is a jsonb column value: the raw JSON, or nil for null or absent.
func JSONValue(raw json.RawMessage) any {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// digits is the digits-only form of a phone value (nil or a string); nil when none remain.
func digits(v any) any {
	s, _ := v.(string)
	return phones.Digits(s)
}

// e164 is the E.164 form of a phone value (nil or a string) in region; nil when it
// cannot be read.
func e164(v any, region string) any {
	s, _ := v.(string)
	return phones.E164(s, region)
}

// decodeItem unmarshals one list item into dst (a pointer to a DTO struct) and checks it:
// an item that is not a JSON object, or whose field holds a value of a type that cannot be
// coerced, gives an error naming the field (the caller turns it into a stream.Reject).
func decodeItem(raw json.RawMessage, dst any) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("item is not a JSON object")
	}
	if v := reflect.ValueOf(dst); v.Kind() == reflect.Pointer && !v.IsNil() {
		if p := planFor(v.Type().Elem()); p != nil {
			if err := decodeFields(t, v.Elem(), p); err != nil {
				return err
			}
			if name := planBadField(v.Elem(), p); name != "" {
				return fmt.Errorf("field %s: value of an unexpected type", name)
			}
			return nil
		}
	}
	if err := json.Unmarshal(t, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("field %s: cannot decode JSON %s as %s", te.Field, te.Value, te.Type)
		}
		return fmt.Errorf("decode item: %w", err)
	}
	if name := badField(reflect.ValueOf(dst), ""); name != "" {
		return fmt.Errorf("field %s: value of an unexpected type", name)
	}
	return nil
}

// badField returns the JSON path of the first flexible field marked bad in v, or "".
func badField(v reflect.Value, prefix string) string {
	suffix, ok := badSuffix(v)
	if !ok {
		return ""
	}
	if prefix == "" {
		return strings.TrimPrefix(suffix, ".")
	}
	return prefix + suffix
}

// badSuffix finds the first flexible field marked bad in v and returns its path relative
// to v (".name", "[2].name", "" for v itself). The path is built only on the way back from
// a bad field, so a clean record (nearly all of them) costs no string building.
func badSuffix(v reflect.Value) (string, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	// Through a pointer when possible: boxing a pointer does not allocate, boxing a
	// struct value does.
	var m badMarker
	ok := false
	if v.CanAddr() && v.Addr().CanInterface() {
		m, ok = v.Addr().Interface().(badMarker)
	} else if v.CanInterface() {
		m, ok = v.Interface().(badMarker)
	}
	if ok {
		return "", m.isBad()
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if got, bad := badSuffix(v.Field(i)); bad {
				if name == "" {
					name = f.Name
				}
				return "." + name + got, true
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // json.RawMessage
			return "", false
		}
		for i := range v.Len() {
			if got, bad := badSuffix(v.Index(i)); bad {
				return "[" + strconv.Itoa(i) + "]" + got, true
			}
		}
	}
	return "", false
}
