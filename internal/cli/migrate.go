package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/migrations"
)

// cmdMigrate is `crmsync migrate [up|down|status]`.
func cmdMigrate(ctx context.Context, a *app, args []string) int {
	fs := a.flags("migrate", "[up|down|status] [--to VERSION]",
		"up (the default) applies every pending migration; down rolls back the last one (or, with\n"+
			"--to, every one above VERSION; --to 0 drops every crmsync schema); status lists them.\n"+
			"Concurrent runs are safe: goose holds a PostgreSQL lock while it migrates.", false)
	to := fs.Int64("to", -1, "with down: roll back to this version")
	// Flags may come before or after the action word.
	action := "up"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		action, args = args[0], args[1:]
	}
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		if fs.NArg() == 1 && action == "up" {
			action = fs.Arg(0)
		} else {
			return a.usageErr("migrate", fmt.Errorf("unexpected argument %q", fs.Arg(fs.NArg()-1)))
		}
	}
	if action != "up" && action != "down" && action != "status" {
		return a.usageErr("migrate", fmt.Errorf("unknown action %q: want up, down or status", action))
	}
	if *to >= 0 && action != "down" {
		return a.usageErr("migrate", fmt.Errorf("--to: only with down"))
	}
	env, code, ok := a.env("migrate", needDatabase)
	if !ok {
		return code
	}
	logger := a.newLogger(env.LogFormat, env.LogLevel, nil)
	pool, target, err := openPool(ctx, env.DatabaseURL, 1)
	if err != nil {
		return a.failure("migrate", err, nil)
	}
	defer pool.Close()

	switch action {
	case "up":
		err = migrations.Up(ctx, pool, logger)
	case "down":
		if *to >= 0 {
			err = migrations.DownTo(ctx, pool, logger, *to)
		} else {
			err = migrations.Down(ctx, pool, logger)
		}
	}
	if err != nil {
		return a.failure("migrate", fmt.Errorf("migrate %s database %s: %w", action, target, err), nil)
	}
	list, err := migrations.List(ctx, pool)
	if err != nil {
		return a.failure("migrate", fmt.Errorf("list migrations of %s: %w", target, err), nil)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tAPPLIED")
	for _, m := range list {
		applied := "pending"
		if m.Applied {
			applied = m.AppliedAt.UTC().Format(time.DateTime) + " UTC"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	_ = tw.Flush()
	return exitOK
}
