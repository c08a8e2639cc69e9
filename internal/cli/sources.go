package cli

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/crmsync/crmsync/extractors/leeloo"
	"github.com/crmsync/crmsync/extractors/textrequest"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/pipeline"
)

// defaultLeelooConcurrency is the chats or details of one Leeloo stream read at once
// (LEELOO_CONCURRENCY), twice the extractor's own default. Leeloo's messages and
// accounts streams make one request per chat or account, so they are bound by round
// trips: with the polite default budget (10/1s) the limiter governs anyway and the
// extra requests in flight only wait on it, while with the budget off (or raised)
// eight in flight keep the one or two streams still running at the end of a sync busy.
// Text Request keeps its default of 2 dashboards: its budget (100/1m) is used up by a
// single request at a time.
const defaultLeelooConcurrency = 8

// source is one enabled API: its shared client (one rate budget for all its streams)
// and its extractor.
type source struct {
	name      string
	baseURL   string
	client    *apiclient.Client
	extractor pipeline.Extractor
	// checkPath and checkQuery are the cheap request `crmsync check` makes.
	checkPath  string
	checkQuery map[string][]string
}

// clientTuning overrides apiclient defaults (tests shorten backoffs; check fails fast).
type clientTuning struct {
	maxAttempts            int
	minBackoff, maxBackoff time.Duration // 0 = apiclient default
	requestTimeout         time.Duration
}

// buildSources builds the client and extractor of every enabled source.
func buildSources(env Env, logger *slog.Logger, tune clientTuning) ([]*source, error) {
	var out []*source
	if s := env.Leeloo; s != nil {
		token := s.Secret
		client, err := apiclient.New(clientConfig(tune, apiclient.Config{
			Source:    leeloo.Source,
			BaseURL:   s.BaseURL,
			Auth:      func(r *http.Request) { r.Header.Set("X-Leeloo-AuthToken", token) },
			Secrets:   []string{token},
			RateLimit: s.RateLimit,
			ErrorCode: leeloo.ErrorCode,
			Logger:    logger,
		}))
		if err != nil {
			return nil, fmt.Errorf("LEELOO_BASE_URL: %w", err)
		}
		ex, err := leeloo.New(leeloo.Config{
			Client: client, Logger: logger,
			PageSize: s.PageSize, Ahead: s.Ahead, Concurrency: cmp.Or(s.Concurrency, defaultLeelooConcurrency),
			Lookback: s.Lookback, FullSweepEvery: s.FullSweepEvery, StartDate: s.StartDate,
		})
		if err != nil {
			return nil, fmt.Errorf("configure leeloo: %w", err)
		}
		out = append(out, &source{name: leeloo.Source, baseURL: s.BaseURL, client: client, extractor: ex,
			checkPath: "/api/v2/users", checkQuery: map[string][]string{"limit": {"1"}}})
	}
	if s := env.TextRequest; s != nil {
		key := s.Secret
		client, err := apiclient.New(clientConfig(tune, apiclient.Config{
			Source:    textrequest.Source,
			BaseURL:   s.BaseURL,
			Auth:      func(r *http.Request) { r.Header.Set("x-api-key", key) },
			Secrets:   []string{key},
			RateLimit: s.RateLimit,
			ErrorCode: textrequest.ErrorCode,
			Logger:    logger,
		}))
		if err != nil {
			return nil, fmt.Errorf("TEXTREQUEST_BASE_URL: %w", err)
		}
		ex, err := textrequest.New(textrequest.Config{
			Client: client, Logger: logger,
			PageSize: s.PageSize, Ahead: s.Ahead, Concurrency: s.Concurrency,
			Lookback: s.Lookback, FullSweepEvery: s.FullSweepEvery, Dashboards: s.Dashboards,
		})
		if err != nil {
			return nil, fmt.Errorf("configure textrequest: %w", err)
		}
		out = append(out, &source{name: textrequest.Source, baseURL: s.BaseURL, client: client, extractor: ex,
			checkPath: "/dashboards", checkQuery: map[string][]string{"page": {"0"}, "page_size": {"1"}}})
	}
	return out, nil
}

func clientConfig(t clientTuning, c apiclient.Config) apiclient.Config {
	c.MaxAttempts = t.maxAttempts
	c.MinBackoff = t.minBackoff
	c.MaxBackoff = t.maxBackoff
	c.RequestTimeout = t.requestTimeout
	return c
}

// allExtractors returns an extractor of every source, enabled or not, for listing
// streams and validating schedules (they are never asked to extract).
func allExtractors() ([]pipeline.Extractor, error) {
	env := Env{
		Leeloo:      &SourceEnv{Secret: "unused", BaseURL: DefaultLeelooBaseURL},
		TextRequest: &SourceEnv{Secret: "unused", BaseURL: DefaultTextRequestBaseURL},
	}
	srcs, err := buildSources(env, discardLogger(), clientTuning{})
	if err != nil {
		return nil, err
	}
	return extractorsOf(srcs), nil
}

func extractorsOf(srcs []*source) []pipeline.Extractor {
	out := make([]pipeline.Extractor, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, s.extractor)
	}
	return out
}
