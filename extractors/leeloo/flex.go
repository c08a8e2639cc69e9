package leeloo

import (
	"encoding/json"

	"github.com/crmsync/crmsync/extractors/internal/lenient"
	"github.com/crmsync/crmsync/extractors/internal/phones"
)

// The DTOs' fields are lenient types (extractors/internal/lenient): null, a missing field,
// "" and Leeloo's "NOT_DEFINED" sentinel are NULL in typed columns, and a value no
// coercion fits fails the record with a reason naming the field.

// FlexString is a text field (numbers and booleans kept as their JSON text) whose
// NOT_DEFINED is NULL.
type FlexString struct{ lenient.String }

// Value is the string for a typed column: nil for null, a missing field and NOT_DEFINED
// ("" stays "": an empty system message is not an unknown one).
func (f FlexString) Value() any {
	if !f.Valid || f.V == lenient.NotDefined {
		return nil
	}
	return f.V
}

// Text is the string, "" when absent (Value's string, without boxing it).
func (f FlexString) Text() string {
	if !f.Valid || f.V == lenient.NotDefined {
		return ""
	}
	return f.V
}

// text is a FlexString holding s.
func text(s string) FlexString {
	return FlexString{lenient.String{Opt: lenient.Opt[string]{V: s, Valid: true}}}
}

// FlexTime is a timestamp field (chat watermarks keep one).
type FlexTime = lenient.Time

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

// decodeItem decodes one list item into dst (a pointer to a DTO struct): an item that is
// not a JSON object, or whose field holds a value of a type that cannot be coerced, gives
// an error naming the field (the caller turns it into a stream.Reject).
func decodeItem(raw json.RawMessage, dst any) error { return lenient.Decode(raw, dst) }
