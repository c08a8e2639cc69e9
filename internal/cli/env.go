package cli

import (
	"errors"
	"strings"

	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/internal/config"
)

// EnvVars is every variable the CLI reads, in the order `--help` shows them: the core
// ones, then each platform's.
var EnvVars = envVars()

func envVars() []config.EnvVar {
	vars := append([]config.EnvVar(nil), config.CoreVars...)
	for _, p := range platforms {
		vars = append(vars, p.Vars...)
	}
	return vars
}

// Env is the configuration read from the environment, parsed once per command.
type Env struct {
	config.Core
	// Sources are the enabled platforms (their credential set), in platforms order.
	Sources []enabled
}

// enabled is a platform whose credential is set, with its settings.
type enabled struct {
	platform.Platform
	*platform.Source
}

// ParseEnv reads the environment through getenv. It returns every problem at once
// (errors.Join), each naming its variable; requirements that depend on the command
// (a database, an enabled source) are checked by Env.require.
func ParseEnv(getenv func(string) string) (Env, error) {
	r := config.NewEnvReader(getenv)
	e := Env{Core: config.ReadCore(r)}
	for _, p := range platforms {
		if s := p.Configure(r); s != nil {
			e.Sources = append(e.Sources, enabled{p, s})
		}
	}
	return e, r.Err()
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
		errs = append(errs, errors.New(config.EnvDatabaseURL+": not set (a PostgreSQL DSN such as postgres://user@host:5432/db)"))
	}
	if need&needSource != 0 && len(e.Sources) == 0 {
		hints := make([]string, len(platforms))
		for i, p := range platforms {
			hints[i] = p.Enable + " for " + p.Title
		}
		errs = append(errs, errors.New("no source enabled: set "+strings.Join(hints, " and/or ")))
	}
	return errors.Join(errs...)
}

// enabledSource returns the enabled platform named name.
func (e Env) enabledSource(name string) (enabled, bool) {
	for _, s := range e.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return enabled{}, false
}

// secrets lists the secrets to scrub from any text we print.
func (e Env) secrets() []string {
	var s []string
	for _, src := range e.Sources {
		s = append(s, src.Secrets...)
	}
	return s
}
