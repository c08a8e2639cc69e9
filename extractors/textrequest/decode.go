package textrequest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/internal/apiclient"
)

// object is one API record split into its fields, still undecoded, so that each field is
// read leniently on its own and a bad one names itself in the reject reason. It is a list
// rather than a map: records have a few dozen fields, a linear look-up over sub-slices of
// the record costs less than hashing and allocating every key, and it needs no copy.
type object []member

// member is one field: its name (unquoted) and its raw value, both sharing the record's
// memory when the name has no escapes.
type member struct {
	key []byte
	val json.RawMessage
}

// get returns the field's raw value, nil when missing. A repeated key gives its last value,
// as decoding into a map would.
func (o object) get(name string) json.RawMessage {
	for i := len(o) - 1; i >= 0; i-- {
		if string(o[i].key) == name {
			return o[i].val
		}
	}
	return nil
}

// parseObject splits a record in one validating pass (apiclient.EachMember), appending
// its members to dst[:0] so a caller can reuse one slice across records. A record that is
// not a JSON object cannot be decoded at all and becomes a reject.
func parseObject(dst object, raw json.RawMessage) (object, error) {
	o := dst[:0]
	err := apiclient.EachMember(raw, func(k, v []byte) error {
		key := k[1 : len(k)-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			s, err := apiclient.Unquote(k)
			if err != nil {
				return err
			}
			key = []byte(s)
		}
		o = append(o, member{key: key, val: v})
		return nil
	})
	if err != nil {
		return o, fmt.Errorf("not a JSON object: %s", excerpt(raw))
	}
	return o, nil
}

// decoderPool recycles decoders and their member slices: the split of a record was the
// largest allocation per record, and it lives only while the record is mapped (the values
// read from it are copies, or sub-slices of the record itself).
var decoderPool = sync.Pool{New: func() any { return &decoder{obj: make(object, 0, 32)} }}

// maxPooledMembers bounds the member slice a pooled decoder keeps, so one odd record with
// thousands of fields does not pin a large slice for the rest of the run.
const maxPooledMembers = 256

// openDecoder splits raw into a pooled decoder. The caller must call close once it reads
// no more fields, and must not keep the decoder or its members after that.
func openDecoder(raw json.RawMessage, prefix string) (*decoder, error) {
	d := decoderPool.Get().(*decoder)
	d.prefix = prefix
	o, err := parseObject(d.obj, raw)
	d.obj = o
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// close returns d to the pool; it is a no-op on nil, as nested gives nil for a missing
// object. The members are cleared so the pool does not keep response bodies alive.
func (d *decoder) close() {
	if d == nil {
		return
	}
	if cap(d.obj) > maxPooledMembers {
		return
	}
	clear(d.obj)
	*d = decoder{obj: d.obj[:0]}
	decoderPool.Put(d)
}

// fieldError names the field that could not be decoded.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return "field " + e.field + ": " + e.msg }

func badField(field, want string, raw json.RawMessage) error {
	return &fieldError{field: field, msg: "want " + want + ", got " + excerpt(raw)}
}

// excerpt is the start of a raw value for a reject reason (the whole payload is stored
// beside the reason anyway).
func excerpt(raw json.RawMessage) string {
	r := []rune(string(bytes.TrimSpace(raw)))
	if len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return string(r)
}

// isNull reports a missing field or an explicit null: both become SQL NULL.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// decoder reads fields of one object and remembers the first error, so mapping code reads
// as a flat list of fields and checks once at the end.
type decoder struct {
	obj    object
	prefix string // prefix for field names in errors ("last_message.")
	err    error
	// checkOnly makes the readers that only fill columns (str, timestamp, int32Field,
	// strs, ints) check the value as usual but return nil instead of building it: the messages
	// stream lists contacts for a few fields and must pass over exactly the contacts the
	// contacts stream rejects, without the cost of their rows.
	checkOnly bool
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) raw(field string) json.RawMessage { return d.obj.get(field) }

// str reads a text field. Numbers and booleans are accepted as their JSON text (an id sent
// as a number); objects and arrays are errors. Null and missing give nil.
func (d *decoder) str(field string) any {
	if d.checkOnly {
		// A string literal always decodes (the split validated it); other values are
		// checked as strVal checks them.
		if raw := bytes.TrimSpace(d.obj.get(field)); len(raw) > 0 && raw[0] == '"' {
			return nil
		}
		d.strVal(field)
		return nil
	}
	s, ok := d.strVal(field)
	if !ok {
		return nil
	}
	return s
}

// strVal is str returning the string and whether it is present.
func (d *decoder) strVal(field string) (string, bool) {
	raw := d.obj.get(field)
	if isNull(raw) {
		return "", false
	}
	s, err := scalarString(raw)
	if err != nil {
		d.fail(badField(d.prefix+field, "a string", raw))
		return "", false
	}
	return s, true
}

// scalarString returns a JSON string's value, or a number's or boolean's text.
func scalarString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "", fmt.Errorf("empty")
	case raw[0] == '"':
		return apiclient.Unquote(raw)
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		if !apiclient.IsNumber(raw) {
			return "", fmt.Errorf("not a number")
		}
		return string(raw), nil
	case string(raw) == "true" || string(raw) == "false":
		return string(raw), nil
	}
	return "", fmt.Errorf("not a scalar")
}

// integer reads a whole number (a JSON number, or a string holding one). Fractions,
// out-of-range values and other types are errors.
func (d *decoder) integer(field string) any {
	n, ok := d.intVal(field)
	if !ok {
		return nil
	}
	return n
}

// int32Field is integer for int32-declared counts; the value is returned as int64 (the
// column is integer, so out-of-range values are errors here, not at load time).
func (d *decoder) int32Field(field string) any {
	n, ok := d.intVal(field)
	if !ok {
		return nil
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		d.fail(badField(d.prefix+field, "a 32-bit integer", d.obj.get(field)))
		return nil
	}
	if d.checkOnly {
		return nil
	}
	return n
}

func (d *decoder) intVal(field string) (int64, bool) {
	raw := d.obj.get(field)
	if isNull(raw) {
		return 0, false
	}
	n, err := parseInt(raw)
	if err != nil {
		d.fail(badField(d.prefix+field, "an integer", raw))
		return 0, false
	}
	return n, true
}

// parseInt reads a JSON number or numeric string as an int64; "12.0" is accepted.
func parseInt(raw json.RawMessage) (int64, error) {
	if n, ok := plainInt(bytes.TrimSpace(raw)); ok {
		return n, nil
	}
	s, err := scalarString(raw)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return int64(f), nil
}

// plainInt reads a bare JSON integer of at most 18 digits (no overflow possible) without
// converting it to a string first, the common case for ids and counts. Anything else
// (strings, fractions, exponents, a leading zero, longer numbers) reports false and takes
// the general path.
func plainInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// boolean reads true/false, also sent as the strings "true"/"false" (any case) or as 1/0,
// since the reference shows booleans typed as strings in places.
func (d *decoder) boolean(field string) any {
	raw := d.obj.get(field)
	if isNull(raw) {
		return nil
	}
	switch string(bytes.TrimSpace(raw)) { // the common case, without converting the value
	case "true":
		return true
	case "false":
		return false
	}
	s, err := scalarString(raw)
	if err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1":
			return true
		case "false", "0":
			return false
		case "":
			return nil
		}
	}
	d.fail(badField(d.prefix+field, "a boolean", raw))
	return nil
}

// timestamp reads a timestamp string through apiclient.ParseTime (with or without Z,
// offsets, fractional seconds). Null, missing and "" give nil; anything unparseable is an
// error naming the field.
func (d *decoder) timestamp(field string) any {
	t, ok := d.timeVal(field)
	if !ok || d.checkOnly {
		return nil
	}
	return t
}

func (d *decoder) timeVal(field string) (time.Time, bool) {
	raw := d.obj.get(field)
	if isNull(raw) {
		return time.Time{}, false
	}
	if t, ok := apiclient.ParseTimeLiteral(bytes.TrimSpace(raw)); ok { // the usual case, without a string
		return t, true
	}
	s, err := apiclient.Unquote(bytes.TrimSpace(raw))
	if err != nil {
		d.fail(badField(d.prefix+field, "a timestamp string", raw))
		return time.Time{}, false
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, false
	}
	t, err := apiclient.ParseTime(strings.TrimSpace(s))
	if err != nil {
		d.fail(badField(d.prefix+field, "a timestamp", raw))
		return time.Time{}, false
	}
	return t, true
}

// money reads a decimal amount (a JSON number or numeric string) and returns it as a
// decimal string so no float rounding happens before PostgreSQL's numeric(12,2).
func (d *decoder) money(field string) any {
	raw := d.obj.get(field)
	if isNull(raw) {
		return nil
	}
	s, err := scalarString(raw)
	s = strings.TrimSpace(s)
	if err == nil && s != "" {
		if r, ok := new(big.Rat).SetString(s); ok {
			// numeric(12,2) holds up to 10 digits before the point.
			if abs := new(big.Rat).Abs(r); abs.Cmp(big.NewRat(1e10, 1)) < 0 {
				return r.FloatString(2)
			}
		}
	}
	d.fail(badField(d.prefix+field, "an amount", raw))
	return nil
}

// strings reads an array of strings (numbers accepted as their text); null elements are
// dropped. A missing field gives nil, an explicit empty array an empty slice.
func (d *decoder) strs(field string) []string {
	raw := d.obj.get(field)
	if isNull(raw) {
		return nil
	}
	items, err := apiclient.SplitArray(raw)
	if err != nil {
		d.fail(badField(d.prefix+field, "an array of strings", raw))
		return nil
	}
	var out []string
	if !d.checkOnly {
		out = make([]string, 0, len(items))
	}
	for _, it := range items {
		if isNull(it) {
			continue
		}
		if d.checkOnly {
			if it[0] == '"' { // as in str: a literal always decodes
				continue
			}
			if _, err := scalarString(it); err != nil {
				d.fail(badField(d.prefix+field, "an array of strings", raw))
				return nil
			}
			continue
		}
		s, err := scalarString(it)
		if err != nil {
			d.fail(badField(d.prefix+field, "an array of strings", raw))
			return nil
		}
		out = append(out, s)
	}
	return out
}

// ints reads an array of integers (numeric strings accepted); null elements are dropped.
func (d *decoder) ints(field string) []int64 {
	raw := d.obj.get(field)
	if isNull(raw) {
		return nil
	}
	items, err := apiclient.SplitArray(raw)
	if err != nil {
		d.fail(badField(d.prefix+field, "an array of integers", raw))
		return nil
	}
	var out []int64
	if !d.checkOnly {
		out = make([]int64, 0, len(items))
	}
	for _, it := range items {
		if isNull(it) {
			continue
		}
		n, err := parseInt(it)
		if err != nil {
			d.fail(badField(d.prefix+field, "an array of integers", raw))
			return nil
		}
		if !d.checkOnly {
			out = append(out, n)
		}
	}
	return out
}

// nested returns a pooled decoder for an object-valued field (nil when null or missing;
// the caller closes it). For APIs that flatten nested objects into dotted keys
// ("last_message.body", as the reference's tables write them) the dotted keys are gathered
// into the same shape.
func (d *decoder) nested(field string) *decoder {
	raw := d.obj.get(field)
	prefix := d.prefix + field + "."
	if !isNull(raw) {
		n, err := openDecoder(raw, prefix)
		if err != nil {
			d.fail(badField(d.prefix+field, "an object", raw))
			return nil
		}
		n.checkOnly = d.checkOnly
		return n
	}
	var n *decoder
	for _, m := range d.obj {
		if len(m.key) > len(field) && m.key[len(field)] == '.' && string(m.key[:len(field)]) == field {
			if n == nil {
				n = decoderPool.Get().(*decoder)
				n.prefix, n.checkOnly = prefix, d.checkOnly
			}
			n.obj = append(n.obj, member{key: m.key[len(field)+1:], val: m.val})
		}
	}
	return n
}

// textArray turns nil into a SQL NULL and anything else into the slice.
func textArray(s []string) any {
	if s == nil {
		return nil
	}
	return s
}

func intArray(s []int64) any {
	if s == nil {
		return nil
	}
	return s
}
