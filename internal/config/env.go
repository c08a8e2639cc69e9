package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/e164"
)

// EnvVar documents one environment variable (`crmsync run --help` prints them; the
// README's configuration table lists the same).
type EnvVar struct {
	Name, Meaning, Default string
}

// Core variables: those of crmsync itself, not of a platform.
const (
	EnvDatabaseURL = "DATABASE_URL"
	EnvConcurrency = "CRMSYNC_CONCURRENCY"
	EnvLogLevel    = "CRMSYNC_LOG_LEVEL"
	EnvLogFormat   = "CRMSYNC_LOG_FORMAT"
	EnvDeleteGuard = "CRMSYNC_DELETE_GUARD"

	// DefaultDeleteGuard is the share of a list's live rows a complete pass may mark
	// deleted (DESIGN.md, Deletions).
	DefaultDeleteGuard = 0.5
	EnvPhoneRegion     = "CRMSYNC_PHONE_REGION"

	// DefaultConcurrency is the number of streams run at once.
	DefaultConcurrency = 4
	// MaxConcurrency bounds every concurrency setting.
	MaxConcurrency = 64
)

// CoreVars documents the core variables, in the order `--help` shows them.
var CoreVars = []EnvVar{
	{EnvDatabaseURL, "PostgreSQL DSN of the warehouse", "required for run, schedule, migrate, status, check"},
	{EnvConcurrency, "streams run at once (each holds up to three database connections)", strconv.Itoa(DefaultConcurrency)},
	{EnvLogLevel, "debug, info, warn or error", "info"},
	{EnvLogFormat, "text or json (--log-format wins)", "text on a terminal, json otherwise"},
	{EnvDeleteGuard, "largest share (0-1) of a list's live rows a complete pass may mark deleted; 0 = never mark, 1 = no guard", "0.5"},
	{EnvPhoneRegion, "region (ISO 3166 code) assumed for phone numbers without a country code, in phone_e164 of every source", "per source: US for Text Request, RU for TWIN and Calltouch, none for Leeloo"},
}

// Core is crmsync's own configuration from the environment.
type Core struct {
	// DatabaseURL is the warehouse DSN. Never logged as a whole.
	DatabaseURL string
	// Concurrency is the number of streams run at once.
	Concurrency int
	LogLevel    slog.Level
	// LogFormat is "text", "json" or "" (automatic).
	LogFormat string
	// DeleteGuard is the share of a list's live rows a complete pass may mark deleted
	// (0 marks nothing, 1 has no limit).
	DeleteGuard float64
}

// ReadCore reads the core variables through r.
func ReadCore(r *EnvReader) Core {
	c := Core{
		DatabaseURL: r.Str(EnvDatabaseURL, ""),
		Concurrency: r.Int(EnvConcurrency, DefaultConcurrency, 1, MaxConcurrency),
		LogFormat:   r.Str(EnvLogFormat, ""),
		DeleteGuard: r.Share(EnvDeleteGuard, DefaultDeleteGuard),
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		r.Fail(EnvLogFormat, "%q: want text or json", c.LogFormat)
	}
	r.PhoneRegion("") // checked here too, so a bad value fails every command
	if lvl := r.Str(EnvLogLevel, ""); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			r.Fail(EnvLogLevel, "%q: want debug, info, warn or error", lvl)
		}
	}
	return c
}

// EnvReader reads variables and collects every problem, each naming its variable, so a
// command reports all of them at once (Err).
type EnvReader struct {
	getenv func(string) string
	errs   []error
	// badRegion is set once a bad CRMSYNC_PHONE_REGION has been reported.
	badRegion bool
}

// NewEnvReader reads through getenv (os.Getenv, or a map in tests).
func NewEnvReader(getenv func(string) string) *EnvReader { return &EnvReader{getenv: getenv} }

// Err joins every problem found so far (nil when none).
func (r *EnvReader) Err() error { return errors.Join(r.errs...) }

// Fail records a problem with variable name.
func (r *EnvReader) Fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

// Str returns the trimmed value of name, or def when it is unset or blank.
func (r *EnvReader) Str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// Int reads a whole number in [min, max] (def when unset).
func (r *EnvReader) Int(name string, def, min, max int) int {
	v := r.Str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.Fail(name, "%q is not a whole number between %d and %d", v, min, max)
		return def
	}
	return n
}

// Share reads a number from 0 to 1 (def when unset).
func (r *EnvReader) Share(name string, def float64) float64 {
	v := r.Str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		r.Fail(name, "%q is not a number from 0 to 1", v)
		return def
	}
	return f
}

// Duration reads a Go duration or a number of days ("2d"); 0 when unset. With offOK,
// "off" or "0" returns -1, meaning never.
func (r *EnvReader) Duration(name string, offOK bool) time.Duration {
	v := r.Str(name, "")
	if v == "" {
		return 0
	}
	if offOK && (v == "off" || v == "0") {
		return -1
	}
	d, err := ParseDuration(v)
	if err != nil || d <= 0 {
		off := ""
		if offOK {
			off = ", off"
		}
		r.Fail(name, "%q is not a positive duration (e.g. 12h, 2d%s)", v, off)
		return 0
	}
	return d
}

// Secret reads name or, if unset, the file named by name_FILE (whitespace trimmed).
// Setting both is a problem.
func (r *EnvReader) Secret(name string) string {
	direct := strings.TrimSpace(r.getenv(name))
	file := strings.TrimSpace(r.getenv(name + "_FILE"))
	switch {
	case direct != "" && file != "":
		r.Fail(name, "both %s and %s_FILE are set; set one", name, name)
		return ""
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			r.Fail(name+"_FILE", "read the secret file: %v", err)
			return ""
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			r.Fail(name+"_FILE", "the file %s is empty", file)
		}
		return s
	default:
		return direct
	}
}

// BaseURL reads an absolute http(s) URL without credentials, query or fragment, its
// trailing slashes removed. forbiddenSuffix, if set, is a path the root must not end
// in (a user pasting an endpoint prefix the client adds itself). See also
// BaseURLWith, for an API whose root includes its version.
func (r *EnvReader) BaseURL(name, def, forbiddenSuffix string) string {
	v := strings.TrimRight(r.Str(name, def), "/")
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.Fail(name, "%q is not an absolute http(s) URL", v)
		return v
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		r.Fail(name, "must not carry credentials, a query or a fragment")
		return v
	}
	if forbiddenSuffix != "" && strings.HasSuffix(u.Path, forbiddenSuffix) {
		r.Fail(name, "%q: give the API root, without %s", v, forbiddenSuffix)
	}
	return v
}

// BaseURLWith is BaseURL for an API whose root must end in requiredSuffix (Text
// Request's /api/v3): without it every request would answer a bare 404.
func (r *EnvReader) BaseURLWith(name, def, requiredSuffix string) string {
	v := r.BaseURL(name, def, "")
	if u, err := url.Parse(v); err == nil && u.Host != "" && !strings.HasSuffix(u.Path, requiredSuffix) {
		r.Fail(name, "%q: give the API root including %s, e.g. %s", v, requiredSuffix, def)
	}
	return v
}

// Rate is a request budget: at most N requests in any window of length Per. The zero
// Rate means no limit.
type Rate struct {
	N   int
	Per time.Duration
}

// Rate reads a budget, "N/duration" or "off" (def when unset).
func (r *EnvReader) Rate(name, def string) Rate {
	l, err := ParseRate(r.Str(name, def))
	if err != nil {
		r.Fail(name, "%v", err)
	}
	return l
}

// Date reads YYYY-MM-DD or RFC 3339 (the zero time when unset).
func (r *EnvReader) Date(name string) time.Time {
	v := r.Str(name, "")
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, v); err != nil {
			r.Fail(name, "%q is not a date (YYYY-MM-DD or RFC 3339)", v)
			return t
		}
	}
	if t.After(time.Now()) {
		r.Fail(name, "%q is in the future: a first sync would read nothing; give the oldest date to read", v)
	}
	return t
}

// PhoneRegion reads CRMSYNC_PHONE_REGION, the region every source assumes for phone
// numbers written without a country code: a code libphonenumber knows, upper-cased
// ("us" reads as "US"), or def when unset. A bad value is reported once however many
// sources read it.
func (r *EnvReader) PhoneRegion(def string) string {
	v, err := e164.Region(r.Str(EnvPhoneRegion, ""))
	if err != nil {
		if !r.badRegion {
			r.badRegion = true
			r.Fail(EnvPhoneRegion, "%v", err)
		}
		return def
	}
	return cmp.Or(v, def)
}

// IDs reads a comma list of positive whole numbers; what names one id in errors.
func (r *EnvReader) IDs(name, what string) []int64 {
	var ids []int64
	for part := range strings.SplitSeq(r.Str(name, ""), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil || id <= 0 {
			r.Fail(name, "%q is not a %s (a comma list of positive numbers)", part, what)
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// ParseRate reads "N/duration" ("10/1s", "100/1m", "100/m") or "off".
func ParseRate(v string) (Rate, error) {
	if v == "off" || v == "0" {
		return Rate{}, nil
	}
	n, per, ok := strings.Cut(v, "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q: want N/duration (e.g. 100/1m) or off", v)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return Rate{}, fmt.Errorf("%q: the count %q is not a positive whole number", v, n)
	}
	per = strings.TrimSpace(per)
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per // "100/m" reads as 100 per minute
	}
	d, err := ParseDuration(per)
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("%q: the window %q is not a positive duration (e.g. 1s, 1m)", v, per)
	}
	return Rate{N: count, Per: d}, nil
}

// ParseDuration is time.ParseDuration plus whole days ("2d").
func ParseDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", v, err)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}
