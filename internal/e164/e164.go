// Package e164 is the one rule that turns a phone number as a source wrote it into
// libphonenumber's E.164 form (github.com/nyaruka/phonenumbers), the value of every
// `phone_e164` column. The extractors use it through extractors/internal/phones; the
// migration that back-fills rows loaded before the column existed uses it directly, so
// old and new rows agree.
package e164

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Format returns the E.164 form of raw ("+15551234567"). region (ISO 3166 alpha-2, "US")
// is assumed for a number written without a country code; with region "" such a number
// cannot be read. It returns nil (SQL NULL) when the number cannot be read or cannot be
// a number of its country (too short or too long), e.g. for "" or Leeloo's
// "NOT_DEFINED". Validity is not required: a well-formed number in an unassigned range
// (such as the fictional +1 555 numbers) still joins.
func Format(raw, region string) any {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "NOT_DEFINED" {
		return nil
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return nil
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

// Region checks a region code (CRMSYNC_PHONE_REGION) against the regions libphonenumber
// knows and returns it upper-cased ("us" → "US"); "" stays "" (no region).
func Region(code string) (string, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" || phonenumbers.GetSupportedRegions()[code] {
		return code, nil
	}
	return "", fmt.Errorf("%q is not a region libphonenumber knows: want an ISO 3166 two-letter code such as US or RU", code)
}
