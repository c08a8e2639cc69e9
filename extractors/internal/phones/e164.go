package phones

import "github.com/crmsync/crmsync/internal/e164"

// E164 is libphonenumber's E.164 form of a phone number ("+15551234567"), the value of
// every `phone_e164` column, or nil when it cannot be read; region is assumed for a
// number written without a country code. See [e164.Format].
func E164(raw, region string) any { return e164.Format(raw, region) }

// Region checks a region code and upper-cases it. See [e164.Region].
func Region(code string) (string, error) { return e164.Region(code) }
