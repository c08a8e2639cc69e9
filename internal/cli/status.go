package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/internal/checkpoint"
)

// maxCursorWidth keeps the status table readable; cursors are small JSON documents.
const maxCursorWidth = 70

// cmdStatus is `crmsync status`: per stream, its last run, outcome, rows, cursor and
// how far behind it is.
func cmdStatus(ctx context.Context, a *app, args []string) int {
	fs := a.flags("status", "", "Shows, per stream: the last run (start, outcome, rows read/inserted/updated/rejected),\n"+
		"when it last succeeded and how long ago that is (BEHIND), and its checkpoint: the cursor\n"+
		"of an unpartitioned stream, or the number of partitions and the oldest partition's update.\n"+
		"Streams of enabled sources that never ran are listed too.", false)
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("status", err)
	}
	env, code, ok := a.env("status", needDatabase)
	if !ok {
		return code
	}
	pool, target, err := openPool(ctx, env.DatabaseURL, 1)
	if err != nil {
		return a.failure("status", err, env.secrets())
	}
	defer pool.Close()
	sts, err := checkpoint.New(pool).Status(ctx)
	if err != nil {
		return a.failure("status", fmt.Errorf("read status from %s: %w", target, err), env.secrets())
	}

	// Streams of enabled sources that never ran, so a new deployment shows its plan.
	seen := map[string]bool{}
	for _, s := range sts {
		seen[s.Source+"."+s.Stream] = true
	}
	if srcs, err := buildSources(env, discardLogger(), a.tune); err == nil {
		for _, ex := range extractorsOf(srcs) {
			for _, d := range ex.Streams() {
				if !seen[d.ID()] && !d.DefaultOff {
					sts = append(sts, checkpoint.StreamStatus{Source: d.Source, Stream: d.Name})
				}
			}
		}
	}
	if len(sts) == 0 {
		var creds []string
		for _, p := range platforms {
			creds = append(creds, p.Enable)
		}
		fmt.Fprintf(a.stdout, "No stream has run yet, and no source is enabled (set %s).\n", strings.Join(creds, " or "))
		return exitOK
	}

	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tLAST RUN (UTC)\tSTATUS\tDURATION\tREAD\tINSERTED\tUPDATED\tREJECTED\tLAST SUCCESS (UTC)\tBEHIND\tCHECKPOINT")
	var failures []string
	for _, s := range sts {
		id := s.Source + "." + s.Stream
		if s.LastRun == nil {
			fmt.Fprintf(tw, "%s\tnever\t-\t-\t-\t-\t-\t-\t%s\t%s\t%s\n", id, timeOr(s.LastSuccess, "never"), behind(s), checkpointText(s))
			continue
		}
		r := s.LastRun
		dur := "-"
		if !r.Finished.IsZero() {
			dur = roundDuration(r.Finished.Sub(r.Started)).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", id, timeOr(r.Started, "-"), r.Status, dur,
			r.Read, r.Loaded.Inserted, r.Loaded.Updated, r.Loaded.Rejected, timeOr(s.LastSuccess, "never"), behind(s), checkpointText(s))
		if r.Error != "" {
			failures = append(failures, id+" "+string(r.Status)+": "+r.Error)
		}
	}
	_ = tw.Flush()
	for _, f := range failures {
		fmt.Fprintln(a.stdout, scrub(f, env.secrets()))
	}
	return exitOK
}

func timeOr(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func behind(s checkpoint.StreamStatus) string {
	if s.LastSuccess.IsZero() {
		return "-"
	}
	return s.Behind.Round(time.Second).String()
}

func checkpointText(s checkpoint.StreamStatus) string {
	switch {
	case s.Partitions == 0:
		return "none"
	case s.Cursor != nil && s.Partitions == 1:
		c := string(s.Cursor)
		if len(c) > maxCursorWidth {
			c = c[:maxCursorWidth-1] + "…"
		}
		return c
	default:
		return strconv.Itoa(s.Partitions) + " partitions, oldest updated " + timeOr(s.OldestUpdate, "-")
	}
}
