package simulator

import (
	"strconv"
	"strings"
	"time"
)

// Record kinds, encoded in every generated ObjectId (hex digits 9-10) so a detail
// endpoint can find a record from its id in O(1) instead of scanning.
const (
	kindPerson     = 0x01
	kindChannel    = 0x02
	kindMessage    = 0x03
	kindOrder      = 0x04
	kindTunnel     = 0x05
	kindLGT        = 0x06
	kindTS         = 0x07
	kindUser       = 0x08
	kindTag        = 0x09
	kindConn       = 0x0a
	kindCategory   = 0x0b
	kindTemplate   = 0x0c
	kindNewMessage = 0x0d
	kindOffer      = 0x0e
	kindPayCred    = 0x0f

	// Text Request hash domains (never part of an id).
	kindTRContact = 0x21
	kindTRMessage = 0x22
	kindTRPayment = 0x23
	kindTRGroup   = 0x24
	kindTRTag     = 0x25
	kindTRField   = 0x26
	kindTRDash    = 0x27
	kindMutation  = 0x30
	kindFault     = 0x31
)

// mix64 is the splitmix64 finaliser: a cheap, well-distributed hash, so every field of
// every record can be derived from (seed, kind, index) without storing anything.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash3 mixes the seed with a kind and two indexes.
func hash3(seed uint64, kind, a, b uint64) uint64 {
	return mix64(mix64(mix64(seed^kind<<56)^a) ^ b)
}

// rnd is a counter-based random stream for one record: each call to u returns the next
// value. Adding a field at the end of a generator changes nothing before it.
type rnd struct {
	s uint64
	n uint64
}

func newRnd(seed uint64, kind, a, b uint64) *rnd {
	return &rnd{s: hash3(seed, kind, a, b)}
}

func (r *rnd) u() uint64 {
	r.n++
	return mix64(r.s + r.n*0x9e3779b97f4a7c15)
}

// intn returns a value in [0, n).
func (r *rnd) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.u() % uint64(n))
}

// chance is true with probability p.
func (r *rnd) chance(p float64) bool {
	return float64(r.u()>>11)/float64(1<<53) < p
}

func (r *rnd) pick(list []string) string { return list[r.intn(len(list))] }

// ms64 returns a duration in [lo, hi) as milliseconds.
func (r *rnd) ms(lo, hi time.Duration) int64 {
	l, h := lo.Milliseconds(), hi.Milliseconds()
	if h <= l {
		return l
	}
	return l + int64(r.u()%uint64(h-l))
}

// objectID builds a 24-hex Mongo-style id whose first 8 digits are the unix seconds of
// t (Leeloo ids do this, see leeloo-api.md §1), then the kind (2 digits), 6 digits that
// look random (a hash of the kind and payload), and the 32-bit payload that identifies
// the record.
func objectID(tms int64, kind byte, payload uint64) string {
	p := payload & 0xffffffff
	noise := mix64(uint64(kind)<<40^p^0x5bd1e995) & 0xffffff
	var b [24]byte
	putHex(b[0:8], uint64(uint32(tms/1000)))
	putHex(b[8:10], uint64(kind))
	putHex(b[10:16], noise)
	putHex(b[16:24], p)
	return string(b[:])
}

// putHex writes the low 4·len(dst) bits of v as zero-padded lowercase hex: a
// fixed-width %0Nx without fmt, which was a tenth of the simulator's CPU.
func putHex(dst []byte, v uint64) {
	const hexDigits = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// appendPadded appends v in decimal, zero-padded to at least width digits (%0Nd for
// v >= 0).
func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	tmp[i] = byte('0' + v)
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// parseObjectID returns the kind and payload of an id made by objectID.
func parseObjectID(id string) (kind byte, payload uint64, ok bool) {
	if len(id) != 24 {
		return 0, 0, false
	}
	k, err := strconv.ParseUint(id[8:10], 16, 8)
	if err != nil {
		return 0, 0, false
	}
	p, err := strconv.ParseUint(id[16:], 16, 64)
	if err != nil {
		return 0, 0, false
	}
	if _, err := strconv.ParseUint(id[:8], 16, 32); err != nil {
		return 0, 0, false
	}
	return byte(k), p, true
}

// guid builds a deterministic GUID-shaped string; the low 48 bits carry a unique
// payload so two records never collide.
func guid(h uint64, payload uint64) string {
	var b [36]byte
	putHex(b[0:8], uint64(uint32(h>>32)))
	b[8] = '-'
	putHex(b[9:13], uint64(uint16(h>>16)))
	b[13], b[14] = '-', '4'
	putHex(b[15:18], uint64(uint16(h)&0xfff))
	b[18] = '-'
	putHex(b[19:23], uint64(0x8000|uint16(h>>48)&0x3fff))
	b[23] = '-'
	putHex(b[24:36], payload&(1<<48-1))
	return string(b[:])
}

// Time layouts served by the simulator.
const (
	layoutMS     = "2006-01-02T15:04:05.000Z"   // Leeloo and Text Request timestamps
	layoutMinute = "2006-01-02T15:04Z"          // Leeloo users (official users example)
	layoutNoZone = "2006-01-02T15:04:05.000"    // Text Request with Faults.OmitTimeZone
	dayLayout    = "2006-01-02"                 // date-only filters
	isoNoZone    = "2006-01-02T15:04:05.999999" // filter values without a zone
)

func fmtMS(tms int64) string {
	var b [24]byte
	return string(appendMS(b[:0], tms))
}

// maxFastMS is 9999-12-31T23:59:59.999Z: up to there a timestamp has a 4-digit year
// and appendMS builds it arithmetically; beyond (and before 1970) time.Format does.
const maxFastMS = 253402300799999

// appendMS appends tms in layoutMS. Every generated record carries several
// timestamps, and time.Format was the costliest part of generating one.
func appendMS(b []byte, tms int64) []byte {
	if tms < 0 || tms > maxFastMS {
		return time.UnixMilli(tms).UTC().AppendFormat(b, layoutMS)
	}
	days, msOfDay := tms/86400000, tms%86400000
	y, m, d := civil(days)
	b = appendPadded(b, uint64(y), 4)
	b = append(b, '-')
	b = appendPadded(b, uint64(m), 2)
	b = append(b, '-')
	b = appendPadded(b, uint64(d), 2)
	b = append(b, 'T')
	b = appendPadded(b, uint64(msOfDay/3600000), 2)
	b = append(b, ':')
	b = appendPadded(b, uint64(msOfDay/60000%60), 2)
	b = append(b, ':')
	b = appendPadded(b, uint64(msOfDay/1000%60), 2)
	b = append(b, '.')
	b = appendPadded(b, uint64(msOfDay%1000), 3)
	return append(b, 'Z')
}

// civil converts days since 1970-01-01 (>= 0) to a proleptic Gregorian date (Howard
// Hinnant's days_from_civil inverse).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func fmtMinute(tms int64) string { return time.UnixMilli(tms).UTC().Format(layoutMinute) }

func ptr[T any](v T) *T { return &v }

// digits keeps only 0-9: phones are compared digits-only.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// samePhone reports whether two phone strings denote the same number: equal digits, or
// equal after dropping a leading US country code 1 from an 11-digit form.
func samePhone(a, b string) bool {
	da, db := digits(a), digits(b)
	if da == "" || db == "" {
		return false
	}
	if da == db {
		return true
	}
	trim := func(s string) string {
		if len(s) == 11 && s[0] == '1' {
			return s[1:]
		}
		return s
	}
	return trim(da) == trim(db)
}

// insertNUL puts a NUL character in the middle of s (Faults.NULCharacters).
func insertNUL(s string) string {
	r := []rune(s)
	m := len(r) / 2
	return string(r[:m]) + "\u0000" + string(r[m:])
}

// Name pools: several scripts, emoji, and apostrophes, because real CRM data has them.
var (
	firstNames = []string{
		"Olivia", "Liam", "Emma", "Noah", "Zoë", "Łukasz", "José", "Chloé", "Seán", "Björn",
		"Анна", "Дмитрий", "Екатерина", "Сергей", "Наталья",
		"Олена", "Андрій", "Юлія", "Ігор", "Марія", "Євген", "Ґанна",
		"محمد", "فاطمة", "أحمد",
		"伟", "娜", "花子", "민준",
		"Katya 🌸", "🔥 Max",
	}
	lastNames = []string{
		"Smith", "Johnson", "García", "Müller", "O'Brien", "Kowalski", "Dubois",
		"Иванова", "Смирнов", "Кузнецова", "Попов",
		"Коваленко", "Шевченко", "Бондаренко", "Ткаченко", "Їжакевич",
		"العلي", "الزهراء", "حسن",
		"王", "李", "佐藤", "김",
	}
	emailUsers   = []string{"anna", "max", "olena", "li.wei", "omar", "j.smith", "kate_88", "ihor", "user"}
	emailDomains = []string{"gmail.com", "ukr.net", "mail.ru", "yahoo.com", "example.com", "i.ua"}
)

func (r *rnd) fullName() string {
	f := r.pick(firstNames)
	switch r.intn(6) {
	case 0:
		return f
	default:
		return f + " " + r.pick(lastNames)
	}
}
