package leeloo

import (
	"cmp"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
)

// Defaults of the Leeloo variables.
const (
	DefaultBaseURL   = "https://api.leeloo.ai"
	DefaultRateLimit = "10/1s"
	envToken         = "LEELOO_AUTH_TOKEN"
)

// cliConcurrency is the chats or details of one stream read at once when
// LEELOO_CONCURRENCY is unset, twice the extractor's own default. The messages and
// accounts streams make one request per chat or account, so they are bound by round
// trips: with the polite default budget the limiter governs anyway and the extra
// requests in flight only wait on it, while with the budget off (or raised) eight in
// flight keep the one or two streams still running at the end of a sync busy.
const cliConcurrency = 8

// Platform declares Leeloo to crmsync.
var Platform = platform.Platform{
	Name:   Source,
	Title:  "Leeloo",
	Enable: envToken + " (or " + envToken + "_FILE)",
	Vars: []config.EnvVar{
		{Name: envToken, Meaning: "Leeloo API token, sent as X-Leeloo-AuthToken; enables Leeloo", Default: "unset: Leeloo disabled"},
		{Name: envToken + "_FILE", Meaning: "read the token from this file (whitespace trimmed)", Default: ""},
		{Name: "LEELOO_BASE_URL", Meaning: "API root, without /api/v2", Default: DefaultBaseURL},
		{Name: "LEELOO_START_DATE", Meaning: "oldest last_message date of a full sync (YYYY-MM-DD or RFC 3339)", Default: "2015-01-01"},
		{Name: "LEELOO_RATE_LIMIT", Meaning: "request budget of all Leeloo streams, N/duration or off", Default: DefaultRateLimit},
		{Name: "LEELOO_LOOKBACK", Meaning: "how far before the last checkpoint an incremental run re-reads (e.g. 24h, 2d)", Default: "24h"},
		{Name: "LEELOO_FULL_SWEEP_EVERY", Meaning: "how often people, channels, accounts and tunnels are re-read completely; off = never", Default: "24h"},
		{Name: "LEELOO_PAGE_SIZE", Meaning: "limit asked per page (the server caps it)", Default: "50"},
		{Name: "LEELOO_CONCURRENCY", Meaning: "chats or details read in parallel within one stream", Default: strconv.Itoa(cliConcurrency)},
		{Name: "LEELOO_FETCH_AHEAD", Meaning: "pages of one list fetched ahead", Default: "1"},
	},
	Configure: configure,
	Streams:   streams,
	Check:     platform.Request{Path: "/api/v2/users", Query: url.Values{"limit": {"1"}}},
}

func configure(r *config.EnvReader) *platform.Source {
	token := r.Secret(envToken)
	if token == "" {
		return nil
	}
	base := r.BaseURL("LEELOO_BASE_URL", DefaultBaseURL, "/api/v2")
	rate := platform.Limit(r.Rate("LEELOO_RATE_LIMIT", DefaultRateLimit))
	cfg := Config{
		PageSize:       r.Int("LEELOO_PAGE_SIZE", 0, 1, 1000),
		Concurrency:    cmp.Or(r.Int("LEELOO_CONCURRENCY", 0, 1, config.MaxConcurrency), cliConcurrency),
		Ahead:          r.Int("LEELOO_FETCH_AHEAD", 0, 1, 16),
		Lookback:       r.Duration("LEELOO_LOOKBACK", false),
		FullSweepEvery: r.Duration("LEELOO_FULL_SWEEP_EVERY", true),
		StartDate:      r.Date("LEELOO_START_DATE"),
		PhoneRegion:    r.PhoneRegion(""),
	}
	return &platform.Source{
		BaseURL: base,
		Secrets: []string{token},
		Client:  apiclient.Config{Auth: platform.HeaderAuth("X-Leeloo-AuthToken", token), RateLimit: rate, ErrorCode: ErrorCode},
		Extractor: func(c *apiclient.Client, logger *slog.Logger) (pipeline.Extractor, error) {
			cfg := cfg
			cfg.Client, cfg.Logger = c, logger
			return New(cfg)
		},
	}
}
