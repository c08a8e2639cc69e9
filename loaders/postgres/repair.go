package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text PostgreSQL cannot store, and what the loader does with it.
//
// A UTF-8 database refuses, in text and jsonb alike, the NUL character and byte
// sequences that are not UTF-8 (SQLSTATE 22021), and jsonb also refuses the escapes
// \u0000 and a lone UTF-16 surrogate (\ud800 without its pair). APIs send all of them
// now and then. Refusing the record would lose the whole record for one character, so
// the loader repairs it, the same way in typed columns and in raw:
//
//   - NUL characters (a literal byte, or \u0000 in JSON) are removed;
//   - each byte that does not belong to a valid UTF-8 sequence becomes U+FFFD (the
//     replacement character), as does a lone surrogate escape in JSON: the same
//     replacement encoding/json makes when it decodes such a string, so a typed
//     column decoded from JSON and the raw it came from agree.
//
// The row is then loaded, and counted in the run's nuls_cleaned (values repaired).
// The original bytes survive only where a record is rejected: sync.rejects.payload
// keeps the record as received, and a payload text cannot hold is stored as a quoted
// string literal with those bytes escaped (see rejectPayload).

// replacement is U+FFFD, which takes the place of each invalid UTF-8 sequence.
const replacement = "\uFFFD"

// storable reports whether PostgreSQL text can hold s as it is.
func storable(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

// repairString removes NUL characters and replaces invalid UTF-8 with U+FFFD; repaired
// reports whether s changed.
func repairString(s string) (_ string, repaired bool) {
	if storable(s) {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(replacement)
		case r != 0:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String(), true
}

// nulEscape is JSON's escape of the NUL character, which jsonb rejects.
var nulEscape = []byte(`\u0000`)

// repairJSON makes JSON text storable in jsonb: it removes NUL bytes and \u0000
// escapes, and replaces invalid UTF-8 and lone surrogate escapes with U+FFFD. An
// escaped backslash followed by "u0000" (the text `\\u0000`) is left alone. It returns
// b itself when nothing needed repair.
func repairJSON(b []byte) (_ []byte, repaired bool) {
	if bytes.IndexByte(b, 0) < 0 && !badEscape(b) && utf8.Valid(b) {
		return b, false
	}
	var out []byte // allocated at the first repair
	edit := func(i int) {
		if out == nil {
			out = append(make([]byte, 0, len(b)), b[:i]...)
		}
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0:
			edit(i)
			i++
		case c == '\\' && i+1 < len(b) && b[i+1] == 'u':
			n := 6
			switch r, ok := hexRune(b[i:]); {
			case !ok: // not a well-formed escape: jsonb refuses it as any parser would
				n = 2
			case r == 0:
				edit(i)
				i += n
				continue
			case r >= 0xD800 && r <= 0xDBFF:
				if lo, ok := hexRune(b[i+n:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					if out != nil {
						out = append(out, b[i:i+2*n]...)
					}
					i += 2 * n
					continue
				}
				edit(i)
				out = append(out, `\ufffd`...)
				i += n
				continue
			case r >= 0xDC00 && r <= 0xDFFF:
				edit(i)
				out = append(out, `\ufffd`...)
				i += n
				continue
			}
			if out != nil {
				out = append(out, b[i:i+n]...)
			}
			i += n
		case c == '\\' && i+1 < len(b):
			// Any other escape, \\ included: copied as a pair so an escaped backslash
			// never starts an escape of its own.
			if out != nil {
				out = append(out, c, b[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			if out != nil {
				out = append(out, c)
			}
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				edit(i)
				out = append(out, replacement...)
				i++
				continue
			}
			if out != nil {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	if out == nil {
		return b, false
	}
	return out, true
}

// badEscape reports whether b may hold a \u escape jsonb refuses (\u0000, or a
// surrogate, which repairJSON then checks for its pair). It may say yes for an escaped
// backslash followed by such text; repairJSON then finds nothing to change.
func badEscape(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 || i+6 > len(b) {
			return false
		}
		if e := b[i+2 : i+6]; string(e) == "0000" || e[0] == 'd' || e[0] == 'D' {
			return true
		}
		b = b[i+2:]
	}
}

// hexRune decodes the \uXXXX escape at the start of b.
func hexRune(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// maxRejectPayload bounds the payload a reject keeps: an oversized record (a 40 MB
// item) is kept as an excerpt, enough to recognise it, not as a copy of itself.
const maxRejectPayload = 64 << 10

// rejectPayload renders a rejected record for sync.rejects: payload is its text and
// asJSON the same record for payload_json (nil when it is not valid JSON). A payload
// PostgreSQL text cannot hold (invalid UTF-8, NUL) is stored as a Go-quoted string
// literal, its bytes escaped (\xff, \x00), so the original survives exactly; asJSON is
// then the repaired record. A payload above maxRejectPayload keeps its first bytes and
// note says so, for the reason.
func rejectPayload(b []byte) (payload string, asJSON []byte, note string) {
	if len(b) > maxRejectPayload {
		note = fmt.Sprintf(" (payload of %d bytes; its first %d kept)", len(b), maxRejectPayload)
		b = b[:maxRejectPayload]
		// Not in the middle of a character.
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
		if !bytes.ContainsRune(b, 0) && utf8.Valid(b) {
			return string(b), nil, note
		}
		return strconv.Quote(string(b)), nil, note
	}
	if fixed, repaired := repairJSON(b); json.Valid(fixed) {
		asJSON = fixed
		if !repaired {
			return string(b), asJSON, ""
		}
	}
	if storable(string(b)) {
		return string(b), asJSON, ""
	}
	return strconv.Quote(string(b)), asJSON, ""
}
