package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/extractors/textrequest"
	"github.com/crmsync/crmsync/internal/apiclient"
)

// Default API roots and budgets (DESIGN.md, environment table).
const (
	DefaultLeelooBaseURL        = "https://api.leeloo.ai"
	DefaultTextRequestBaseURL   = "https://api.textrequest.com/api/v3"
	DefaultLeelooRateLimit      = "10/1s"
	DefaultTextRequestRateLimit = "100/1m"
	DefaultConcurrency          = 4
	maxConcurrency              = 64
	envDatabaseURL              = "DATABASE_URL"
	envLeelooToken              = "LEELOO_AUTH_TOKEN"
	envTextRequestKey           = "TEXTREQUEST_API_KEY"
	envConcurrency              = "CRMSYNC_CONCURRENCY"
	envLogLevel                 = "CRMSYNC_LOG_LEVEL"
	envLogFormat                = "CRMSYNC_LOG_FORMAT"
)

// EnvVar documents one environment variable the CLI reads (`crmsync run --help`
// prints them; README's configuration table lists the same).
type EnvVar struct {
	Name, Meaning, Default string
}

// EnvVars is every variable the CLI reads, in the order `--help` shows them.
var EnvVars = []EnvVar{
	{envDatabaseURL, "PostgreSQL DSN of the warehouse", "required for run, schedule, migrate, status, check"},
	{envConcurrency, "streams run at once (each holds up to three database connections)", strconv.Itoa(DefaultConcurrency)},
	{envLogLevel, "debug, info, warn or error", "info"},
	{envLogFormat, "text or json (--log-format wins)", "text on a terminal, json otherwise"},
	{envLeelooToken, "Leeloo API token, sent as X-Leeloo-AuthToken; enables Leeloo", "unset: Leeloo disabled"},
	{envLeelooToken + "_FILE", "read the token from this file (whitespace trimmed)", ""},
	{"LEELOO_BASE_URL", "API root, without /api/v2", DefaultLeelooBaseURL},
	{"LEELOO_START_DATE", "oldest last_message date of a full sync (YYYY-MM-DD or RFC 3339)", "2015-01-01"},
	{"LEELOO_RATE_LIMIT", "request budget of all Leeloo streams, N/duration or off", DefaultLeelooRateLimit},
	{"LEELOO_LOOKBACK", "how far before the last checkpoint an incremental run re-reads (e.g. 24h, 2d)", "24h"},
	{"LEELOO_FULL_SWEEP_EVERY", "how often people, channels, accounts and tunnels are re-read completely; off = never", "24h"},
	{"LEELOO_PAGE_SIZE", "limit asked per page (the server caps it)", "50"},
	{"LEELOO_CONCURRENCY", "chats or details read in parallel within one stream", strconv.Itoa(defaultLeelooConcurrency)},
	{"LEELOO_FETCH_AHEAD", "pages of one list fetched ahead", "1"},
	{envTextRequestKey, "Text Request API key, sent as x-api-key; enables Text Request", "unset: Text Request disabled"},
	{envTextRequestKey + "_FILE", "read the key from this file (whitespace trimmed)", ""},
	{"TEXTREQUEST_BASE_URL", "API root including /api/v3", DefaultTextRequestBaseURL},
	{"TEXTREQUEST_DASHBOARDS", "comma list of dashboard ids to sync", "all dashboards of the account"},
	{"TEXTREQUEST_RATE_LIMIT", "request budget of all Text Request streams, N/duration or off", DefaultTextRequestRateLimit},
	{"TEXTREQUEST_LOOKBACK", "how far before a watermark incremental reads start again", "24h"},
	{"TEXTREQUEST_FULL_SWEEP_EVERY", "how often contacts/payments are re-read completely; off = never", "24h"},
	{"TEXTREQUEST_PAGE_SIZE", "page_size asked per page", strconv.Itoa(textrequest.DefaultPageSize)},
	{"TEXTREQUEST_CONCURRENCY", "dashboards read in parallel within one stream", "2"},
	{"TEXTREQUEST_FETCH_AHEAD", "pages of one full scan fetched ahead", "1"},
}

// Env is the configuration read from the environment, parsed once per command. A
// source is enabled (its field non-nil) when its credential is set.
type Env struct {
	// DatabaseURL is the warehouse DSN (DATABASE_URL). Never logged as a whole.
	DatabaseURL string
	// Concurrency is the number of streams run at once (CRMSYNC_CONCURRENCY).
	Concurrency int
	// LogLevel is CRMSYNC_LOG_LEVEL.
	LogLevel slog.Level
	// LogFormat is CRMSYNC_LOG_FORMAT ("" = automatic).
	LogFormat string
	// Leeloo is nil when LEELOO_AUTH_TOKEN(_FILE) is unset.
	Leeloo *SourceEnv
	// TextRequest is nil when TEXTREQUEST_API_KEY(_FILE) is unset.
	TextRequest *SourceEnv
}

// SourceEnv is one API source's settings.
type SourceEnv struct {
	// Secret is the token or key. Never logged.
	Secret  string
	BaseURL string
	// RateLimit is the source's budget; the zero Limit means off.
	RateLimit apiclient.Limit
	// Lookback and FullSweepEvery tune incremental reads (0 = extractor default;
	// FullSweepEvery < 0 = never).
	Lookback, FullSweepEvery time.Duration
	// PageSize, Concurrency and Ahead: 0 = extractor default.
	PageSize, Concurrency, Ahead int
	// StartDate is Leeloo's oldest last_message date (zero = extractor default).
	StartDate time.Time
	// Dashboards are Text Request's dashboard ids (empty = all).
	Dashboards []int64
}

// envReader parses variables and collects every problem, each naming its variable.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (r *envReader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *envReader) int(name string, def, min, max int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.fail(name, "%q is not a whole number between %d and %d", v, min, max)
		return def
	}
	return n
}

// duration reads a Go duration or a number of days ("2d"); offOK allows "off"/"0"
// (returned as -1 meaning never).
func (r *envReader) duration(name string, offOK bool) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return 0
	}
	if offOK && (v == "off" || v == "0") {
		return -1
	}
	d, err := parseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, "%q is not a positive duration (e.g. 12h, 2d%s)", v, map[bool]string{true: ", off", false: ""}[offOK])
		return 0
	}
	return d
}

// secret reads NAME or, if unset, the file named by NAME_FILE.
func (r *envReader) secret(name string) string {
	direct := strings.TrimSpace(r.getenv(name))
	file := strings.TrimSpace(r.getenv(name + "_FILE"))
	switch {
	case direct != "" && file != "":
		r.fail(name, "both %s and %s_FILE are set; set one", name, name)
		return ""
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			r.fail(name+"_FILE", "read the secret file: %v", err)
			return ""
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			r.fail(name+"_FILE", "the file %s is empty", file)
		}
		return s
	default:
		return direct
	}
}

func (r *envReader) baseURL(name, def, forbiddenSuffix string) string {
	v := strings.TrimRight(r.str(name, def), "/")
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(name, "%q is not an absolute http(s) URL", v)
		return v
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		r.fail(name, "must not carry credentials, a query or a fragment")
		return v
	}
	if forbiddenSuffix != "" && strings.HasSuffix(u.Path, forbiddenSuffix) {
		r.fail(name, "%q: give the API root, without %s", v, forbiddenSuffix)
	}
	return v
}

func (r *envReader) rateLimit(name, def string) apiclient.Limit {
	v := r.str(name, def)
	l, err := parseRateLimit(v)
	if err != nil {
		r.fail(name, "%v", err)
	}
	return l
}

// ParseEnv reads the environment through getenv. It returns every problem at once
// (errors.Join), each naming its variable; requirements that depend on the command
// (a database, an enabled source) are checked by Env.require.
func ParseEnv(getenv func(string) string) (Env, error) {
	r := &envReader{getenv: getenv}
	e := Env{
		DatabaseURL: r.str(envDatabaseURL, ""),
		Concurrency: r.int(envConcurrency, DefaultConcurrency, 1, maxConcurrency),
		LogFormat:   r.str(envLogFormat, ""),
	}
	if e.LogFormat != "" && e.LogFormat != "text" && e.LogFormat != "json" {
		r.fail(envLogFormat, "%q: want text or json", e.LogFormat)
	}
	if lvl := r.str(envLogLevel, ""); lvl != "" {
		if err := e.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			r.fail(envLogLevel, "%q: want debug, info, warn or error", lvl)
		}
	}

	if tok := r.secret(envLeelooToken); tok != "" {
		s := &SourceEnv{
			Secret:         tok,
			BaseURL:        r.baseURL("LEELOO_BASE_URL", DefaultLeelooBaseURL, "/api/v2"),
			RateLimit:      r.rateLimit("LEELOO_RATE_LIMIT", DefaultLeelooRateLimit),
			Lookback:       r.duration("LEELOO_LOOKBACK", false),
			FullSweepEvery: r.duration("LEELOO_FULL_SWEEP_EVERY", true),
			PageSize:       r.int("LEELOO_PAGE_SIZE", 0, 1, 1000),
			Concurrency:    r.int("LEELOO_CONCURRENCY", 0, 1, maxConcurrency),
			Ahead:          r.int("LEELOO_FETCH_AHEAD", 0, 1, 16),
		}
		if v := r.str("LEELOO_START_DATE", ""); v != "" {
			t, err := parseDate(v)
			if err != nil {
				r.fail("LEELOO_START_DATE", "%q is not a date (YYYY-MM-DD or RFC 3339)", v)
			}
			s.StartDate = t
		}
		e.Leeloo = s
	}

	if key := r.secret(envTextRequestKey); key != "" {
		s := &SourceEnv{
			Secret:         key,
			BaseURL:        r.baseURL("TEXTREQUEST_BASE_URL", DefaultTextRequestBaseURL, ""),
			RateLimit:      r.rateLimit("TEXTREQUEST_RATE_LIMIT", DefaultTextRequestRateLimit),
			Lookback:       r.duration("TEXTREQUEST_LOOKBACK", false),
			FullSweepEvery: r.duration("TEXTREQUEST_FULL_SWEEP_EVERY", true),
			PageSize:       r.int("TEXTREQUEST_PAGE_SIZE", 0, 1, 10000),
			Concurrency:    r.int("TEXTREQUEST_CONCURRENCY", 0, 1, maxConcurrency),
			Ahead:          r.int("TEXTREQUEST_FETCH_AHEAD", 0, 1, 16),
		}
		if v := r.str("TEXTREQUEST_DASHBOARDS", ""); v != "" {
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				id, err := strconv.ParseInt(part, 10, 64)
				if err != nil || id <= 0 {
					r.fail("TEXTREQUEST_DASHBOARDS", "%q is not a dashboard id (a comma list of positive numbers)", part)
					continue
				}
				s.Dashboards = append(s.Dashboards, id)
			}
		}
		e.TextRequest = s
	}
	return e, errors.Join(r.errs...)
}

// requirement says what a command needs from the environment.
type requirement int

const (
	needDatabase requirement = 1 << iota
	needSource
)

// require checks the command-specific requirements, naming the variables to set.
func (e Env) require(need requirement) error {
	var errs []error
	if need&needDatabase != 0 && e.DatabaseURL == "" {
		errs = append(errs, errors.New(envDatabaseURL+": not set (a PostgreSQL DSN such as postgres://user@host:5432/db)"))
	}
	if need&needSource != 0 && e.Leeloo == nil && e.TextRequest == nil {
		errs = append(errs, errors.New("no source enabled: set "+envLeelooToken+" (or "+envLeelooToken+"_FILE) for Leeloo and/or "+
			envTextRequestKey+" (or "+envTextRequestKey+"_FILE) for Text Request"))
	}
	return errors.Join(errs...)
}

// secrets lists the secrets to scrub from any text we print.
func (e Env) secrets() []string {
	var s []string
	if e.Leeloo != nil {
		s = append(s, e.Leeloo.Secret)
	}
	if e.TextRequest != nil {
		s = append(s, e.TextRequest.Secret)
	}
	return s
}

// parseRateLimit reads "N/duration" ("10/1s", "100/1m", "100/m") or "off".
func parseRateLimit(v string) (apiclient.Limit, error) {
	if v == "off" || v == "0" {
		return apiclient.Limit{}, nil
	}
	n, per, ok := strings.Cut(v, "/")
	if !ok {
		return apiclient.Limit{}, fmt.Errorf("%q: want N/duration (e.g. 100/1m) or off", v)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return apiclient.Limit{}, fmt.Errorf("%q: the count %q is not a positive whole number", v, n)
	}
	per = strings.TrimSpace(per)
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per // "100/m" reads as 100 per minute
	}
	d, err := parseDuration(per)
	if err != nil || d <= 0 {
		return apiclient.Limit{}, fmt.Errorf("%q: the window %q is not a positive duration (e.g. 1s, 1m)", v, per)
	}
	return apiclient.Limit{N: count, Per: d}, nil
}

// parseDuration is time.ParseDuration plus whole days ("2d").
func parseDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", v, err)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}
