package twin

import (
	"log/slog"
	"net/url"
	"strconv"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/twinauth"
)

// Defaults of the TWIN variables (DESIGN.md).
const (
	DefaultIAMURL    = "https://iam.twin24.ai/api/v1"
	DefaultChatURL   = "https://chat-api.twin24.ai/api/v1"
	DefaultRateLimit = "5/1s"
	envEmail         = "TWIN_EMAIL"
	envPassword      = "TWIN_PASSWORD"
)

// Platform declares TWIN to crmsync.
var Platform = platform.Platform{
	Name:   Source,
	Title:  "TWIN",
	Enable: envEmail + " and " + envPassword + " (or " + envPassword + "_FILE)",
	Vars: []config.EnvVar{
		{Name: envEmail, Meaning: "e-mail of the TWIN user crmsync logs in as; with TWIN_PASSWORD enables TWIN", Default: "unset: TWIN disabled"},
		{Name: envEmail + "_FILE", Meaning: "read the e-mail from this file (whitespace trimmed)", Default: ""},
		{Name: envPassword, Meaning: "that user's password (the bearer token is kept in memory and renewed by crmsync)", Default: "unset: TWIN disabled"},
		{Name: envPassword + "_FILE", Meaning: "read the password from this file (whitespace trimmed)", Default: ""},
		{Name: "TWIN_COMPANY_ID", Meaning: "company to log in to, for users of several", Default: "the user's default"},
		{Name: "TWIN_IAM_URL", Meaning: "IAM API root (login, refresh)", Default: DefaultIAMURL},
		{Name: "TWIN_CHAT_URL", Meaning: "chat API root", Default: DefaultChatURL},
		{Name: "TWIN_START_DATE", Meaning: "oldest session read by the first sync (YYYY-MM-DD or RFC 3339)", Default: "2015-01-01"},
		{Name: "TWIN_RATE_LIMIT", Meaning: "request budget of all TWIN calls, N/duration or off", Default: DefaultRateLimit},
		{Name: "TWIN_LOOKBACK", Meaning: "how far before the last run's start sessions are read again", Default: "1h"},
		{Name: "TWIN_FULL_SWEEP_EVERY", Meaning: "how often every session and every client's attribute values are re-read; off = never", Default: "24h"},
		{Name: "TWIN_PAGE_SIZE", Meaning: "limit asked per page (TWIN's default is 10)", Default: strconv.Itoa(DefaultPageSize)},
		{Name: "TWIN_CONCURRENCY", Meaning: "sessions or clients read in parallel within one stream", Default: strconv.Itoa(DefaultConcurrency)},
	},
	Configure: configure,
	Streams:   descs,
	Check:     platform.Request{Path: "/chats", Query: url.Values{"limit": {"1"}}},
}

func configure(r *config.EnvReader) *platform.Source {
	email := r.Secret(envEmail)
	password := r.Secret(envPassword)
	if email == "" && password == "" {
		return nil
	}
	if email == "" || password == "" {
		r.Fail(envEmail, "TWIN needs both %s and %s (or their _FILE variants)", envEmail, envPassword)
		return nil
	}
	iamURL := r.BaseURL("TWIN_IAM_URL", DefaultIAMURL, "/auth/login")
	chatURL := r.BaseURL("TWIN_CHAT_URL", DefaultChatURL, "/sessions")
	company := int64(r.Int("TWIN_COMPANY_ID", 0, 1, 1<<31-1))
	rate := platform.Limit(r.Rate("TWIN_RATE_LIMIT", DefaultRateLimit))
	cfg := Config{
		PageSize:       r.Int("TWIN_PAGE_SIZE", 0, 1, 1000),
		Concurrency:    r.Int("TWIN_CONCURRENCY", 0, 1, config.MaxConcurrency),
		Lookback:       r.Duration("TWIN_LOOKBACK", false),
		FullSweepEvery: r.Duration("TWIN_FULL_SWEEP_EVERY", true),
		StartDate:      r.Date("TWIN_START_DATE"),
		PhoneRegion:    r.PhoneRegion(DefaultPhoneRegion),
	}
	secrets := []string{password}
	return &platform.Source{
		BaseURL: chatURL,
		Secrets: secrets,
		Client:  apiclient.Config{Auth: SetAuthHeader, RateLimit: rate, ErrorCode: ErrorCode},
		Extractor: func(c *apiclient.Client, logger *slog.Logger) (pipeline.Extractor, error) {
			iam, err := apiclient.New(apiclient.Config{Source: Source, BaseURL: iamURL, Secrets: secrets, RateLimit: rate, ErrorCode: ErrorCode, Logger: logger})
			if err != nil {
				return nil, err
			}
			tokens, err := twinauth.New(twinauth.Config{IAM: iam, Email: email, Password: password, CompanyID: company})
			if err != nil {
				return nil, err
			}
			cfg := cfg
			cfg.Client, cfg.Tokens, cfg.Logger = c, tokens, logger
			return New(cfg)
		},
	}
}

// ErrorCode reads TWIN's error text ({"error": "Token is expired."}) for
// apiclient.StatusError.
func ErrorCode(body []byte) string {
	o, err := decodeObj(body)
	if err != nil {
		return ""
	}
	return truncate(o.str("error"), 120)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
