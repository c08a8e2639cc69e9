package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/migrations"
)

// checkTimeout bounds each check so a black-holed host fails in seconds.
const checkTimeout = 20 * time.Second

// checker is an extractor that makes its platform's check request itself, because
// the request needs more than the client's static credentials (a login).
type checker interface {
	Check(ctx context.Context) error
}

// cmdCheck is `crmsync check`: can we reach the database and each enabled source
// with the configured credentials? One cheap request per source.
func cmdCheck(ctx context.Context, a *app, args []string) int {
	var requests []string
	for _, p := range platforms {
		requests = append(requests, p.Title+": "+p.Check.String())
	}
	fs := a.flags("check", "", "Connects to DATABASE_URL and makes one cheap request to each enabled source\n"+
		"("+strings.Join(requests, "; ")+"),\n"+
		"printing a line per target. Exit 0 when every target answers, 1 otherwise.", true)
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("check", err)
	}
	env, code, ok := a.env("check", needDatabase|needSource)
	if !ok {
		return code
	}
	// Fail fast: two attempts with short backoffs, not the run's patient retries.
	tune := a.tune
	if tune.maxAttempts == 0 {
		tune = clientTuning{maxAttempts: 2, minBackoff: 200 * time.Millisecond, maxBackoff: time.Second, requestTimeout: 15 * time.Second}
	}
	sources, err := buildSources(env, discardLogger(), tune)
	if err != nil {
		return a.usageErr("check", err)
	}

	failed := false
	report := func(ok bool, target, detail string) {
		mark := "ok  "
		if !ok {
			mark, failed = "FAIL", true
		}
		fmt.Fprintf(a.stdout, "%s  %s: %s\n", mark, target, scrub(detail, env.secrets()))
	}

	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	pool, target, err := openPool(cctx, env.DatabaseURL, 1)
	cancel()
	if err != nil {
		report(false, "database", err.Error())
	} else {
		detail := "connected to " + target
		if list, err := migrations.List(ctx, pool); err == nil {
			applied := 0
			for _, m := range list {
				if m.Applied {
					applied++
				}
			}
			detail += fmt.Sprintf(" (migrations: %d of %d applied)", applied, len(list))
		}
		pool.Close()
		report(true, "database", detail)
	}

	for _, s := range sources {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		start := time.Now()
		var err error
		if c, ok := s.extractor.(checker); ok {
			err = c.Check(cctx) // a platform that must log in first (TWIN)
		} else {
			_, err = s.client.Get(cctx, nil, s.check.Path, s.check.Query)
		}
		cancel()
		target := s.name + " " + s.baseURL
		if err != nil {
			report(false, target, err.Error())
			continue
		}
		report(true, target, fmt.Sprintf("GET %s answered in %s", s.check.Path, roundDuration(time.Since(start))))
	}
	if failed {
		return exitFailed
	}
	return exitOK
}
