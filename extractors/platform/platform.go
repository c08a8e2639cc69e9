// Package platform is what a source platform declares to crmsync: its name, its
// environment variables and how they are read, its credentials, the request
// `crmsync check` makes, and how its API client and extractor are built. Each platform
// package (extractors/leeloo, extractors/textrequest, …) exports one [Platform] value,
// and the CLI's list of platforms (internal/cli/platforms.go) holds one line per
// platform: that line is all it takes to add one (README, "Adding a platform").
package platform

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

// Platform declares one API source.
type Platform struct {
	// Name is the source name of its streams and tables, of --source and of
	// schedules.yaml ("leeloo").
	Name string
	// Title is the name users know ("Leeloo"), in messages.
	Title string
	// Enable says which variables enable the platform, for messages such as "set
	// LEELOO_AUTH_TOKEN (or LEELOO_AUTH_TOKEN_FILE)".
	Enable string
	// Vars documents every variable the platform reads, in `--help` order (the README's
	// configuration table must list each of them; a test checks).
	Vars []config.EnvVar
	// Configure reads the platform's variables through r, which collects every problem
	// (each naming its variable). It returns nil when the platform is not enabled (its
	// credential is unset).
	Configure func(r *config.EnvReader) *Source
	// Check is the one cheap request `crmsync check` makes with the platform's client.
	Check Request
	// Streams describes every stream of the platform (the extractor's Streams), for
	// `crmsync streams` and schedules.yaml checks, which need no configuration.
	Streams func() []stream.Desc
}

// Request is a GET of Path with Query, relative to the client's base URL.
type Request struct {
	Path  string
	Query url.Values
}

// String is the request as `crmsync check --help` shows it.
func (q Request) String() string {
	if len(q.Query) == 0 {
		return "GET " + q.Path
	}
	return "GET " + q.Path + "?" + q.Query.Encode()
}

// Source is an enabled platform's configuration, read from the environment.
type Source struct {
	// BaseURL is the API root, shown by `crmsync check`.
	BaseURL string
	// Secrets are scrubbed from everything crmsync prints.
	Secrets []string
	// Client configures the platform's API client: auth, rate limit, error code. Its
	// Source, BaseURL and Secrets default to the platform's; the CLI adds its logger and
	// its retry tuning.
	Client apiclient.Config
	// Extractor builds the platform's extractor on its client.
	Extractor func(c *apiclient.Client, logger *slog.Logger) (pipeline.Extractor, error)
	// CheckRequest, when set, replaces Platform.Check for `crmsync check`: for a
	// platform whose check depends on its settings (Calltouch's site id is in the path).
	CheckRequest *Request
}

// HeaderAuth sends secret in one request header.
func HeaderAuth(header, secret string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(header, secret) }
}

// Limit converts a budget read by config.EnvReader.Rate to the client's.
func Limit(r config.Rate) apiclient.Limit { return apiclient.Limit{N: r.N, Per: r.Per} }

// Build makes the client and the extractor; tune applies the caller's client settings
// (logger, retries) to the platform's client configuration.
func (s *Source) Build(name string, logger *slog.Logger, tune func(apiclient.Config) apiclient.Config) (*apiclient.Client, pipeline.Extractor, error) {
	cfg := s.Client
	cfg.Source = cmp.Or(cfg.Source, name)
	cfg.BaseURL = cmp.Or(cfg.BaseURL, s.BaseURL)
	if cfg.Secrets == nil {
		cfg.Secrets = s.Secrets
	}
	cfg.Logger = logger
	if tune != nil {
		cfg = tune(cfg)
	}
	client, err := apiclient.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("configure %s client: %w", name, err)
	}
	ex, err := s.Extractor(client, logger)
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("configure %s: %w", name, err)
	}
	return client, ex, nil
}
