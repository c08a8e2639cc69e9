package textrequest

import (
	"log/slog"
	"net/url"
	"strconv"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
)

// Defaults of the Text Request variables.
const (
	DefaultBaseURL   = "https://api.textrequest.com/api/v3"
	DefaultRateLimit = "100/1m"
	envKey           = "TEXTREQUEST_API_KEY"
)

// Platform declares Text Request to crmsync.
var Platform = platform.Platform{
	Name:   Source,
	Title:  "Text Request",
	Enable: envKey + " (or " + envKey + "_FILE)",
	Vars: []config.EnvVar{
		{Name: envKey, Meaning: "Text Request API key, sent as x-api-key; enables Text Request", Default: "unset: Text Request disabled"},
		{Name: envKey + "_FILE", Meaning: "read the key from this file (whitespace trimmed)", Default: ""},
		{Name: "TEXTREQUEST_BASE_URL", Meaning: "API root including /api/v3", Default: DefaultBaseURL},
		{Name: "TEXTREQUEST_DASHBOARDS", Meaning: "comma list of dashboard ids to sync", Default: "all dashboards of the account"},
		{Name: "TEXTREQUEST_RATE_LIMIT", Meaning: "request budget of all Text Request streams, N/duration or off", Default: DefaultRateLimit},
		{Name: "TEXTREQUEST_LOOKBACK", Meaning: "how far before a watermark incremental reads start again", Default: "24h"},
		{Name: "TEXTREQUEST_FULL_SWEEP_EVERY", Meaning: "how often contacts/payments are re-read completely; off = never", Default: "24h"},
		{Name: "TEXTREQUEST_PAGE_SIZE", Meaning: "page_size asked per page", Default: strconv.Itoa(DefaultPageSize)},
		{Name: "TEXTREQUEST_CONCURRENCY", Meaning: "dashboards read in parallel within one stream", Default: "2"},
		{Name: "TEXTREQUEST_FETCH_AHEAD", Meaning: "pages of one full scan fetched ahead", Default: "1"},
	},
	Configure: configure,
	Streams:   descs,
	Check:     platform.Request{Path: "/dashboards", Query: url.Values{"page": {"0"}, "page_size": {"1"}}},
}

func configure(r *config.EnvReader) *platform.Source {
	key := r.Secret(envKey)
	if key == "" {
		return nil
	}
	base := r.BaseURLWith("TEXTREQUEST_BASE_URL", DefaultBaseURL, "/api/v3")
	rate := platform.Limit(r.Rate("TEXTREQUEST_RATE_LIMIT", DefaultRateLimit))
	cfg := Config{
		PageSize:       r.Int("TEXTREQUEST_PAGE_SIZE", 0, 1, 10000),
		Concurrency:    r.Int("TEXTREQUEST_CONCURRENCY", 0, 1, config.MaxConcurrency),
		Ahead:          r.Int("TEXTREQUEST_FETCH_AHEAD", 0, 1, 16),
		Lookback:       r.Duration("TEXTREQUEST_LOOKBACK", false),
		FullSweepEvery: r.Duration("TEXTREQUEST_FULL_SWEEP_EVERY", true),
		Dashboards:     r.IDs("TEXTREQUEST_DASHBOARDS", "dashboard id"),
		PhoneRegion:    r.PhoneRegion(DefaultPhoneRegion),
	}
	return &platform.Source{
		BaseURL: base,
		Secrets: []string{key},
		Client:  apiclient.Config{Auth: platform.HeaderAuth("x-api-key", key), RateLimit: rate, ErrorCode: ErrorCode},
		Extractor: func(c *apiclient.Client, logger *slog.Logger) (pipeline.Extractor, error) {
			cfg := cfg
			cfg.Client, cfg.Logger = c, logger
			return New(cfg)
		},
	}
}
