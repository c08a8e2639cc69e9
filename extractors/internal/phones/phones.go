// Package phones holds the phone-number rules every extractor shares, so all sources
// compute them the same way: the digits-only form stored beside every phone
// (`phone_digits`), and the E.164 form (`phone_e164`, [E164]) that joins a person across
// tables and platforms however each source wrote the number.
package phones

import "strings"

// Digits keeps only the digits of a phone number ("+1(555)-123-4567" → "15551234567").
// It returns nil (SQL NULL) when no digit is left, e.g. for "" or "NOT_DEFINED".
func Digits(phone string) any {
	// Digits are ASCII and no byte of a multi-byte UTF-8 rune falls in '0'..'9', so a
	// byte scan is exact; counting first sizes the result in one allocation.
	n := 0
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			n++
		}
	}
	switch n {
	case 0:
		return nil
	case len(phone):
		return phone
	}
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
