package cli

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

// source is one enabled API: its shared client (one rate budget for all its streams)
// and its extractor.
type source struct {
	name      string
	baseURL   string
	client    *apiclient.Client
	extractor pipeline.Extractor
	// check is the cheap request `crmsync check` makes.
	check platform.Request
}

// clientTuning overrides apiclient defaults (tests shorten backoffs; check fails fast).
type clientTuning struct {
	maxAttempts            int
	minBackoff, maxBackoff time.Duration // 0 = apiclient default
	requestTimeout         time.Duration
}

func (t clientTuning) apply(c apiclient.Config) apiclient.Config {
	c.MaxAttempts = t.maxAttempts
	c.MinBackoff = t.minBackoff
	c.MaxBackoff = t.maxBackoff
	c.RequestTimeout = t.requestTimeout
	return c
}

// buildSources builds the client and extractor of every enabled source.
func buildSources(env Env, logger *slog.Logger, tune clientTuning) ([]*source, error) {
	var out []*source
	for _, s := range env.Sources {
		client, ex, err := s.Build(s.Name, logger, tune.apply)
		if err != nil {
			for _, built := range out {
				built.client.Close()
			}
			return nil, err
		}
		check := s.Check
		if s.CheckRequest != nil {
			check = *s.CheckRequest
		}
		out = append(out, &source{name: s.Name, baseURL: s.BaseURL, client: client, extractor: ex, check: check})
	}
	return out, nil
}

// allExtractors returns the streams of every platform, enabled or not, as
// extractors for pipeline.Known and listing; they are never asked to extract.
func allExtractors() ([]pipeline.Extractor, error) {
	out := make([]pipeline.Extractor, len(platforms))
	for i, p := range platforms {
		out[i] = streamList(p.Streams())
	}
	return out, nil
}

// streamList describes a platform's streams without being able to run them.
type streamList []stream.Desc

func (l streamList) Streams() []stream.Desc { return l }

func (streamList) Extract(context.Context, stream.Request, chan<- stream.Batch) error {
	return errors.New("the source is not enabled")
}

func extractorsOf(srcs []*source) []pipeline.Extractor {
	out := make([]pipeline.Extractor, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, s.extractor)
	}
	return out
}
