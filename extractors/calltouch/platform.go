package calltouch

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
)

// Defaults of the Calltouch variables.
const (
	DefaultBaseURL   = "https://api.calltouch.ru"
	DefaultRateLimit = "4/1s"
	envToken         = "CALLTOUCH_API_TOKEN"
	envSiteID        = "CALLTOUCH_SITE_ID"
)

// Platform declares Calltouch to crmsync.
var Platform = platform.Platform{
	Name:   Source,
	Title:  "Calltouch",
	Enable: envToken + " (or " + envToken + "_FILE) with " + envSiteID,
	Vars: []config.EnvVar{
		{Name: envToken, Meaning: "Calltouch API token, sent as clientApiId (scrubbed from every log, error and row); enables Calltouch", Default: "unset: Calltouch disabled"},
		{Name: envToken + "_FILE", Meaning: "read the token from this file (whitespace trimmed)", Default: ""},
		{Name: envSiteID, Meaning: "the Calltouch cabinet (site) id", Default: "required with the token"},
		{Name: "CALLTOUCH_BASE_URL", Meaning: "API root", Default: DefaultBaseURL},
		{Name: "CALLTOUCH_START_DATE", Meaning: "oldest day of calls and requests a first sync reads (YYYY-MM-DD)", Default: "2015-01-01"},
		{Name: "CALLTOUCH_RATE_LIMIT", Meaning: "request budget of all Calltouch calls, N/duration or off (the API allows 5 a second per IP)", Default: DefaultRateLimit},
		{Name: "CALLTOUCH_LOOKBACK", Meaning: "days before the last day read that each run reads again, for late tags, comments and deals", Default: "14d"},
	},
	Configure: configure,
	Streams:   descs,
	Check: platform.Request{Path: "/calls-service/RestAPI/{" + envSiteID + "}/calls-diary/calls",
		Query: url.Values{"dateFrom": {"today"}, "dateTo": {"today"}, "page": {"1"}, "limit": {"1"}}},
}

func configure(r *config.EnvReader) *platform.Source {
	token := r.Secret(envToken)
	if token == "" {
		return nil
	}
	var site int64
	if v := r.Str(envSiteID, ""); v == "" {
		r.Fail(envSiteID, "not set: the Calltouch cabinet id is required with %s (Integrations → API in the cabinet)", envToken)
	} else if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
		r.Fail(envSiteID, "%q is not a cabinet id (a positive number)", v)
	} else {
		site = n
	}
	base := r.BaseURL("CALLTOUCH_BASE_URL", DefaultBaseURL, "/calls-service/RestAPI")
	rate := platform.Limit(r.Rate("CALLTOUCH_RATE_LIMIT", DefaultRateLimit))
	cfg := Config{
		SiteID:    site,
		Token:     token,
		StartDate: r.Date("CALLTOUCH_START_DATE"),
		Lookback:  r.Duration("CALLTOUCH_LOOKBACK", false),
		Region:    r.PhoneRegion(DefaultRegion),
	}
	today := time.Now().In(Zone).Format(callsDayLayout)
	return &platform.Source{
		BaseURL: base,
		Secrets: []string{token},
		Client:  apiclient.Config{Auth: QueryAuth(token), RateLimit: rate, ErrorCode: ErrorCode},
		Extractor: func(c *apiclient.Client, logger *slog.Logger) (pipeline.Extractor, error) {
			cfg := cfg
			cfg.Client, cfg.Logger = c, logger
			return New(cfg)
		},
		CheckRequest: &platform.Request{Path: "/calls-service/RestAPI/" + strconv.FormatInt(site, 10) + "/calls-diary/calls",
			Query: url.Values{"dateFrom": {today}, "dateTo": {today}, "page": {"1"}, "limit": {"1"}}},
	}
}

// QueryAuth adds the token as the clientApiId query parameter, as the journals take it.
// The apiclient names only paths in its errors and logs and scrubs the token from every
// text, so the URL carrying it is never shown.
func QueryAuth(token string) func(*http.Request) {
	return func(r *http.Request) {
		q := r.URL.Query()
		q.Set("clientApiId", token)
		r.URL.RawQuery = q.Encode()
	}
}
