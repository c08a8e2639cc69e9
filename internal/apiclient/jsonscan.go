package apiclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The functions below split a JSON body into its parts in one validating pass, without
// decoding anything: an envelope's members, a list's items. encoding/json would scan each
// byte several times to do the same (Unmarshal validates the whole input, then decodes it,
// skipping a json.RawMessage's bytes once more and copying them), and the list pages of
// both APIs are nearly all item bytes, each of which the extractor decodes anyway. Parts
// are sub-slices of the input, never copies: an item's raw JSON shares the body's memory.
//
// Validation follows RFC 8259 as encoding/json does (invalid UTF-8 inside strings is let
// through, as encoding/json does, and replaced only when a string is decoded), so
// "splits without error" means "json.Valid would say true" for the parts walked.

// ErrMalformed is wrapped by the errors of EachMember, EachElement and SplitArray when the
// input is not well-formed JSON (a truncated body is the usual cause). A decode function
// given to GetDecode that returns such an error makes the attempt retryable.
var ErrMalformed = errors.New("malformed JSON")

// maxDepth bounds nesting as encoding/json does, so a hostile body cannot exhaust the
// stack.
const maxDepth = 10000

// syntaxError is a malformed-JSON error with the byte offset where it was found.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return "malformed JSON at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *syntaxError) Is(target error) bool { return target == ErrMalformed }

func malformed(msg string, off int) error { return &syntaxError{msg: msg, off: off} }

// strPlain marks bytes that may appear in a JSON string without ending it or starting an
// escape: not '"', not '\\', not a control character.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string literal starting at b[i] == '"' and
// whether it holds an escape.
func skipString(b []byte, i int) (end int, escaped bool, err error) {
	start := i
	i++
	for {
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, false, malformed("unterminated string", start)
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, malformed("unterminated string", start)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, malformed("unterminated string", start)
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return 0, false, malformed("invalid \\u escape", i)
					}
				}
				i += 6
			default:
				return 0, false, malformed("invalid escape", i)
			}
		default:
			return 0, false, malformed("control character in string", i)
		}
	}
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipNumber returns the index just past the number starting at b[i].
func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return 0, malformed("invalid number", start)
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, malformed("invalid number", start)
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, malformed("invalid number", start)
		}
		i = j
	}
	return i, nil
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, malformed("invalid literal", i)
	}
	return i + len(lit), nil
}

// skipValue validates the value starting at b[i] (no leading space) and returns the index
// just past it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, malformed("unexpected end of input", i)
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := skipString(b, i)
		return end, err
	case c == '{':
		return walkObject(b, i, depth+1, nil)
	case c == '[':
		return walkArray(b, i, depth+1, nil)
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return 0, malformed("unexpected character "+strconv.QuoteRune(rune(b[i])), i)
}

// walkObject validates the object at b[i] == '{', calls fn (when set) per member with the
// raw key literal (quotes included) and the raw value, and returns the index past it.
func walkObject(b []byte, i, depth int, fn func(key, value []byte) error) (int, error) {
	if depth > maxDepth {
		return 0, malformed("nested too deeply", i)
	}
	start := i
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) {
			return 0, malformed("unterminated object", start)
		}
		if b[i] != '"' {
			return 0, malformed("object key is not a string", i)
		}
		kEnd, _, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i:kEnd]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return 0, malformed("missing ':' after object key", i)
		}
		i = skipSpace(b, i+1)
		vStart := i
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		if fn != nil {
			if err := fn(key, b[vStart:i]); err != nil {
				return 0, err
			}
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, malformed("unterminated object", start)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, malformed("missing ',' or '}' in object", i)
		}
	}
}

// walkArray is walkObject for arrays.
func walkArray(b []byte, i, depth int, fn func(value []byte) error) (int, error) {
	if depth > maxDepth {
		return 0, malformed("nested too deeply", i)
	}
	start := i
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		vStart := i
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return 0, err
		}
		if fn != nil {
			if err := fn(b[vStart:i]); err != nil {
				return 0, err
			}
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, malformed("unterminated array", start)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, malformed("missing ',' or ']' in array", i)
		}
	}
}

// whole checks that b holds one value starting with open (after optional space) and
// nothing but space after it, and returns where the value starts.
func whole(b []byte, open byte, what string) (int, error) {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return 0, malformed("empty input", i)
	}
	if b[i] != open {
		end, err := skipValue(b, i, 0)
		if err != nil {
			return 0, err
		}
		if skipSpace(b, end) != len(b) {
			return 0, malformed("data after the value", end)
		}
		return 0, &notKindError{what: what}
	}
	return i, nil
}

// notKindError is a well-formed value of another kind than the one asked for.
type notKindError struct{ what string }

func (e *notKindError) Error() string { return "JSON value is not " + e.what }

func trailing(b []byte, end int) error {
	if j := skipSpace(b, end); j != len(b) {
		return malformed("data after the value", j)
	}
	return nil
}

// EachMember validates the JSON object b (surrounding space allowed) and calls fn for each
// member in order with its key as a raw JSON string literal (quotes included; compare it
// with KeyEquals or decode it with Unquote) and its raw value. An error of fn stops the
// walk and is returned as is. b must be a whole, well-formed object; otherwise the error
// wraps ErrMalformed (or, for a well-formed value of another kind, says so and does not).
func EachMember(b []byte, fn func(key, value []byte) error) error {
	i, err := whole(b, '{', "an object")
	if err != nil {
		return err
	}
	end, err := walkObject(b, i, 1, fn)
	if err != nil {
		return err
	}
	return trailing(b, end)
}

// EachElement is EachMember for a JSON array: fn gets each element's raw value in order.
func EachElement(b []byte, fn func(value []byte) error) error {
	i, err := whole(b, '[', "an array")
	if err != nil {
		return err
	}
	end, err := walkArray(b, i, 1, fn)
	if err != nil {
		return err
	}
	return trailing(b, end)
}

// SplitArray returns the elements of the JSON array b as raw values sharing b's memory,
// validating b in the same pass (errors as EachElement's).
func SplitArray(b []byte) ([]json.RawMessage, error) {
	var items []json.RawMessage
	err := EachElement(b, func(v []byte) error {
		items = append(items, json.RawMessage(v))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return items, nil
}

// Unquote decodes a raw JSON string literal exactly as encoding/json would (escapes,
// surrogate pairs, invalid UTF-8 replaced by U+FFFD). The common case, a string without
// escapes in valid UTF-8, costs one scan and one allocation.
func Unquote(lit []byte) (string, error) {
	if inner, ok := plainString(lit); ok {
		return string(inner), nil
	}
	return unmarshalString(lit)
}

// UnquoteShared is Unquote without the copy in the common case: a string without
// escapes in valid UTF-8 shares lit's memory. The string then keeps lit's whole array
// alive and lit must never change, so use it only for a response body's values that
// live no longer than the body does anyway (the rows that keep sub-slices of it as
// their raw JSON), and copy (strings.Clone) what outlives it, such as map keys kept
// for a run.
func UnquoteShared(lit []byte) (string, error) {
	if inner, ok := plainString(lit); ok {
		return unsafe.String(unsafe.SliceData(inner), len(inner)), nil
	}
	return unmarshalString(lit)
}

// plainString returns the bytes between a string literal's quotes when they are its
// value as they stand: no escapes, valid UTF-8.
func plainString(lit []byte) ([]byte, bool) {
	n := len(lit)
	if n < 2 || lit[0] != '"' || lit[n-1] != '"' {
		return nil, false
	}
	inner := lit[1 : n-1]
	for _, c := range inner {
		if !strPlain[c] {
			return nil, false
		}
	}
	return inner, utf8.Valid(inner)
}

// unmarshalString decodes a string literal through encoding/json.
func unmarshalString(lit []byte) (string, error) {
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", err
	}
	return s, nil
}

// IsNumber reports whether b is exactly one JSON number (no surrounding space).
func IsNumber(b []byte) bool {
	if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		return false
	}
	end, err := skipNumber(b, 0)
	return err == nil && end == len(b)
}

// KeyEquals reports whether the raw key literal (as EachMember passes it) names name,
// exactly; see KeyFold for encoding/json's matching of struct fields.
func KeyEquals(key []byte, name string) bool {
	if n := len(key); n == len(name)+2 && string(key[1:n-1]) == name {
		return true
	}
	for _, c := range key {
		if c == '\\' {
			s, err := Unquote(key)
			return err == nil && s == name
		}
	}
	return false
}

// KeyFold reports whether the raw key literal names name ignoring case, as encoding/json
// matches an object's keys to a struct's fields.
func KeyFold(key []byte, name string) bool {
	if n := len(key); n >= 2 && bytes.IndexByte(key, '\\') < 0 {
		return strings.EqualFold(string(key[1:n-1]), name)
	}
	s, err := Unquote(key)
	return err == nil && strings.EqualFold(s, name)
}
