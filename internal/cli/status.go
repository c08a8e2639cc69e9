package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/stream"
)

// maxCursorWidth keeps the status table readable; cursors are small JSON documents.
const maxCursorWidth = 70

// cmdStatus is `crmsync status`: per stream, its last run, outcome, rows, cursor and
// how far behind it is.
func cmdStatus(ctx context.Context, a *app, args []string) int {
	fs := a.flags("status", "[--wide] [-o text|json]", "Shows, per stream: the last run (start, outcome, records read, rows written and rejected)\n"+
		"and how long ago the stream last succeeded (BEHIND), and the rows its last complete pass\n"+
		"marked deleted (DELETED: \"held\" when the delete guard held it back, \"-\" when it never\n"+
		"completed one). --wide adds the run's duration, the\n"+
		"last success and the checkpoint: the cursor of an unpartitioned stream, or the number of\n"+
		"partitions and the oldest partition's update. -o json prints all of it as JSON.\n"+
		"Streams of enabled sources that never ran are listed too.", false)
	wide := fs.Bool("wide", false, "more columns: duration, last success, checkpoint")
	output := fs.String("o", "text", "output format: text or json")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := noArgs(fs); err != nil {
		return a.usageErr("status", err)
	}
	if *output != "text" && *output != "json" {
		return a.usageErr("status", fmt.Errorf("-o: %q: want text or json", *output))
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
	passes, err := checkpoint.New(pool).LastPasses(ctx)
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
	if *output == "json" {
		return a.statusJSON(sts, passes, env.secrets())
	}
	if len(sts) == 0 {
		var creds []string
		for _, p := range platforms {
			creds = append(creds, p.Enable)
		}
		fmt.Fprintf(a.stdout, "No stream has run yet, and no source is enabled (set %s).\n", strings.Join(creds, " or "))
		return a.printPushStatus(ctx, pool, env.secrets())
	}

	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	header := "STREAM\tLAST RUN (UTC)\tSTATUS\tRECORDS\tWRITTEN\tREJECTED\tDELETED\tBEHIND"
	if *wide {
		header += "\tDURATION\tINSERTED\tUPDATED\tLAST SUCCESS (UTC)\tCHECKPOINT"
	}
	fmt.Fprintln(tw, header)
	var failures []string
	for _, s := range sts {
		id := s.Source + "." + s.Stream
		r := s.LastRun
		if r == nil {
			r = &stream.RunRecord{}
		}
		cols := []string{id, timeOr(r.Started, "never"), string(r.Status), count(r, r.Read),
			count(r, r.Loaded.Inserted+r.Loaded.Updated), count(r, r.Loaded.Rejected), deletedText(passes, id), behind(s)}
		if *wide {
			dur := "-"
			if !r.Finished.IsZero() {
				dur = roundDuration(r.Finished.Sub(r.Started)).String()
			}
			cols = append(cols, dur, count(r, r.Loaded.Inserted), count(r, r.Loaded.Updated),
				timeOr(s.LastSuccess, "never"), checkpointText(s))
		}
		if cols[2] == "" {
			cols[2] = "-"
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		if r.Error != "" {
			failures = append(failures, id+" "+string(r.Status)+": "+r.Error)
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(a.stdout, "RECORDS: records received in the last run; WRITTEN: rows inserted or changed (child rows included);\n"+
		"DELETED: rows the last complete pass marked deleted (child rows included).")
	for _, id := range slices.Sorted(maps.Keys(passes)) {
		if p := passes[id]; p.Held != "" {
			failures = append(failures, id+" deletions held by CRMSYNC_DELETE_GUARD: "+p.Held)
		}
	}
	for _, f := range failures {
		fmt.Fprintln(a.stdout, scrub(f, env.secrets()))
	}
	return a.printPushStatus(ctx, pool, env.secrets())
}

// deletedText is the DELETED column: the rows the stream's last complete pass marked.
func deletedText(passes map[string]checkpoint.LastPass, id string) string {
	p, ok := passes[id]
	switch {
	case !ok:
		return "-"
	case p.Held != "":
		return strconv.FormatInt(p.Marked, 10) + " (held)"
	default:
		return strconv.FormatInt(p.Marked, 10)
	}
}

// count prints a run's figure, or "-" for a stream that never ran.
func count(r *stream.RunRecord, n int) string {
	if r.ID == 0 && r.Started.IsZero() {
		return "-"
	}
	return strconv.Itoa(n)
}

// statusJSON prints every figure of every stream, for scripts and monitoring.
func (a *app) statusJSON(sts []checkpoint.StreamStatus, passes map[string]checkpoint.LastPass, secrets []string) int {
	type run struct {
		ID          int64      `json:"id"`
		Started     time.Time  `json:"started_at"`
		Finished    *time.Time `json:"finished_at"`
		Status      string     `json:"status"`
		Requests    int        `json:"requests"`
		Records     int        `json:"records_read"`
		Inserted    int        `json:"rows_inserted"`
		Updated     int        `json:"rows_updated"`
		Unchanged   int        `json:"rows_unchanged"`
		ChildDelete int        `json:"rows_deleted"`
		Rejected    int        `json:"rows_rejected"`
		Error       string     `json:"error,omitempty"`
	}
	type pass struct {
		RunStarted time.Time `json:"run_started_at"`
		Passes     int       `json:"passes"`
		Marked     int64     `json:"rows_marked_deleted"`
		Held       string    `json:"deletions_held,omitempty"`
	}
	type row struct {
		Stream        string          `json:"stream"`
		LastRun       *run            `json:"last_run"`
		LastSuccess   *time.Time      `json:"last_success_at"`
		BehindSeconds *float64        `json:"behind_seconds"`
		Partitions    int             `json:"partitions"`
		Cursor        json.RawMessage `json:"cursor,omitempty"`
		OldestUpdate  *time.Time      `json:"oldest_partition_update_at"`
		// LastPass: the latest run that completed a pass over a complete list.
		LastPass *pass `json:"last_complete_pass,omitempty"`
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	out := make([]row, 0, len(sts))
	for _, s := range sts {
		r := row{Stream: s.Source + "." + s.Stream, LastSuccess: opt(s.LastSuccess), Partitions: s.Partitions,
			Cursor: s.Cursor, OldestUpdate: opt(s.OldestUpdate)}
		if !s.LastSuccess.IsZero() {
			b := s.Behind.Seconds()
			r.BehindSeconds = &b
		}
		if p, ok := passes[r.Stream]; ok {
			r.LastPass = &pass{RunStarted: p.RunStarted, Passes: p.Passes, Marked: p.Marked, Held: p.Held}
		}
		if l := s.LastRun; l != nil {
			r.LastRun = &run{ID: l.ID, Started: l.Started, Finished: opt(l.Finished), Status: string(l.Status),
				Requests: l.Requests, Records: l.Read, Inserted: l.Loaded.Inserted, Updated: l.Loaded.Updated,
				Unchanged: l.Loaded.Unchanged, ChildDelete: l.Loaded.Deleted, Rejected: l.Loaded.Rejected,
				Error: scrub(l.Error, secrets)}
		}
		out = append(out, r)
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return a.failure("status", err, secrets)
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
