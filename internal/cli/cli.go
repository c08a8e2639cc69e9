// Package cli is crmsync's command line and its composition root: the only place that
// builds concrete parts (the logger, the pgx pool, the migrator, the API clients, the
// extractors, the loader, the checkpoint store, the pipeline, the scheduler and the
// metrics) from flags and the environment.
//
// Commands (DESIGN.md, "Run contract"): run, schedule, migrate, status, check,
// streams, simulate, demo. Exit codes: 0 success; 1 some stream failed (or a check
// target is unreachable); 2 bad usage or configuration, with a message naming the
// flag or variable.
//
// Configuration comes from the environment (see EnvVars; secrets only from there or
// from the files named by the *_FILE variables) and from each command's flags; it is
// parsed once per command into an Env and validated before anything connects.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// app is one invocation: where output goes and how the environment is read.
type app struct {
	getenv    func(string) string
	stdout    io.Writer
	stderr    io.Writer
	stderrTTY bool
	// tune overrides API client defaults (tests shorten backoffs).
	tune clientTuning
	// ready, if set, is called by long-running commands (simulate, schedule) with
	// their listening address once they serve (tests use it instead of sleeping).
	ready func(addr string)
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) int
}

var commands = []command{
	{"run", "migrate, then run every enabled stream (or the named ones) once, then exit", cmdRun},
	{"push", "send the rows of the pushes' queries (schedules.yaml pushes:) to Calltouch and TWIN", cmdPush},
	{"schedule", "run the jobs of schedules.yaml on their cron schedules (long-running)", cmdSchedule},
	{"migrate", "apply (up), roll back one (down) or list (status) the database migrations", cmdMigrate},
	{"status", "per stream: last run, outcome, rows, cursor, how far behind", cmdStatus},
	{"check", "check that the database and each enabled source answer with the credentials", cmdCheck},
	{"streams", "list every stream: source, name, mode, tables, keys, on by default", cmdStreams},
	{"simulate", "serve the simulated Leeloo and Text Request APIs", cmdSimulate},
	{"demo", "what `make demo` runs: simulators, full and incremental sync, analyst queries", func(ctx context.Context, a *app, args []string) int {
		return cmdDemo(ctx, args, a.stdout, a.stderr)
	}},
}

// Run runs the crmsync command line with args (without the program name) and returns
// the process exit code. It reads the process environment.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{getenv: os.Getenv, stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		a.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	return a.main(ctx, args)
}

func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		a.usage(a.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, a, args[1:])
		}
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	fmt.Fprintf(a.stderr, "crmsync: unknown command %q; commands: %s (see crmsync --help)\n", args[0], strings.Join(names, ", "))
	return exitUsage
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "crmsync keeps a PostgreSQL warehouse in step with the Leeloo.ai and Text Request APIs.")
	fmt.Fprintln(w, "\nUsage: crmsync <command> [flags]   (crmsync <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nExit codes: 0 ok; 1 some stream failed (check: a target is unreachable); 2 bad usage or configuration.")
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// flags makes a command's flag set; usage prints the synopsis, the description, the
// flags and, when envHelp, the environment variables.
func (a *app) flags(name, synopsis, description string, envHelp bool) *flag.FlagSet {
	fs := flag.NewFlagSet("crmsync "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: crmsync %s %s\n\n%s\n", name, synopsis, description)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
		if envHelp {
			fmt.Fprintln(w, "\nEnvironment:")
			for _, v := range EnvVars {
				def := ""
				if v.Default != "" {
					def = " (default: " + v.Default + ")"
				}
				fmt.Fprintf(w, "  %-29s %s%s\n", v.Name, v.Meaning, def)
			}
		}
	}
	return fs
}

// parse parses args; ok is false when the command must return code (help: 0; a bad
// flag: 2, flag has printed the problem and the usage).
func (a *app) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if slices.ContainsFunc(args, isHelp) {
		fs.SetOutput(a.stdout)
		fs.Usage()
		return exitOK, false
	}
	// flag prints its error and then the whole usage, which buries the one line that
	// matters; print the error alone, with a hint, as for every other usage problem.
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(a.stderr)
	if err != nil {
		return a.usageErr(strings.TrimPrefix(fs.Name(), "crmsync "), flagHint(fs, err)), false
	}
	return 0, true
}

// flagHint turns flag's parse error into our wording: the flag as the user wrote it
// (with two dashes) and, for an unknown one, the defined flag it most likely meant.
func flagHint(fs *flag.FlagSet, err error) error {
	const unknown = "flag provided but not defined: -"
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, unknown)
	if !ok {
		return errors.New(strings.Replace(msg, " -", " --", 1))
	}
	want := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	guess := ""
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == want || strings.TrimSuffix(f.Name, "s") == strings.TrimSuffix(want, "s") {
			guess = f.Name
		}
	})
	if guess != "" {
		return fmt.Errorf("unknown flag --%s; did you mean --%s?", name, guess)
	}
	return fmt.Errorf("unknown flag --%s", name)
}

// usageErr prints a usage or configuration problem and returns exit code 2.
func (a *app) usageErr(cmd string, err error) int {
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		msg = "\n  " + strings.ReplaceAll(msg, "\n", "\n  ")
	}
	fmt.Fprintf(a.stderr, "crmsync %s: %s (see crmsync %s --help)\n", cmd, msg, cmd)
	return exitUsage
}

// failure prints a runtime problem and returns exit code 1.
func (a *app) failure(cmd string, err error, secrets []string) int {
	fmt.Fprintf(a.stderr, "crmsync %s: %s\n", cmd, scrub(err.Error(), secrets))
	return exitFailed
}

// env parses the environment and checks the command's requirements; on a problem it
// prints it and returns exit code 2.
func (a *app) env(cmd string, need requirement) (Env, int, bool) {
	e, err := ParseEnv(a.getenv)
	if err == nil {
		err = e.require(need)
	}
	if err == nil && need&needDatabase != 0 {
		err = checkDSN(e.DatabaseURL)
	}
	if err != nil {
		return e, a.usageErr(cmd, err), false
	}
	return e, 0, true
}

// newLogger builds the process logger on stderr: text on a terminal, JSON otherwise,
// unless format ("text"/"json", from --log-format or CRMSYNC_LOG_FORMAT) says.
func (a *app) newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	if w == nil {
		w = a.stderr
	}
	if format == "" {
		format = "json"
		if a.stderrTTY {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// scrub removes secrets from text we print.
func scrub(text string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	return text
}

// logFormat validates --log-format.
func logFormat(flagValue, envValue string) (string, error) {
	v := flagValue
	if v == "" {
		v = envValue
	}
	switch v {
	case "", "text", "json":
		return v, nil
	}
	return "", fmt.Errorf("--log-format: %q: want text or json", flagValue)
}

// stringList is a repeatable flag that also splits comma lists.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// noArgs rejects stray positional arguments.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// withMaxDuration bounds ctx by d (0 = no bound); the cause names the limit, so the
// cancelled runs say why they stopped.
func withMaxDuration(ctx context.Context, d time.Duration, what string) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, errors.New(what+" "+d.String()+" reached"))
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
