package cli

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/crmsync/crmsync/internal/pipeline"
	"github.com/crmsync/crmsync/internal/stream"
)

// printSummary writes the end-of-run table: one line per stream, a total, the
// sources' HTTP traffic, and the cause of every failed or cancelled stream.
func printSummary(w io.Writer, res *pipeline.Result, sources []string, secrets []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tSTATUS\tREQUESTS\tRECORDS\tINSERTED\tUPDATED\tUNCHANGED\tDELETED\tREJECTED\tDURATION\t")
	var total pipeline.StreamResult
	for _, r := range res.Streams {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", r.ID(), r.Status, r.Requests, r.Read,
			r.Loaded.Inserted, r.Loaded.Updated, r.Loaded.Unchanged, r.Loaded.Deleted, r.Loaded.Rejected, roundDuration(r.Duration))
		total.Requests += r.Requests
		total.Read += r.Read
		total.Loaded.Add(r.Loaded)
	}
	fmt.Fprintf(tw, "total (%d streams)\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", len(res.Streams), outcomeCounts(res),
		total.Requests, total.Read, total.Loaded.Inserted, total.Loaded.Updated, total.Loaded.Unchanged,
		total.Loaded.Deleted, total.Loaded.Rejected, roundDuration(res.Duration))
	_ = tw.Flush()
	fmt.Fprintln(w, "RECORDS: records received from the API. INSERTED to REJECTED: rows of the stream's tables, child rows included;")
	fmt.Fprintln(w, "a row read again unchanged (an overlapping window, a page re-read after a retry) counts as UNCHANGED.")

	for _, l := range sources {
		fmt.Fprintln(w, l)
	}
	if total.Loaded.Rejected > 0 {
		fmt.Fprintf(w, "%d records could not be loaded; see sync.rejects\n", total.Loaded.Rejected)
	}
	if l := total.Loaded; l.MarkedDeleted > 0 || l.Restored > 0 {
		fmt.Fprintf(w, "%d rows marked deleted (gone from the source: deleted_at set), %d restored\n", l.MarkedDeleted, l.Restored)
	}
	if total.Loaded.PassesHeld > 0 {
		fmt.Fprintf(w, "%d complete passes marked nothing: CRMSYNC_DELETE_GUARD held them back (see sync.runs.deletions_held)\n", total.Loaded.PassesHeld)
	}
	for _, r := range res.Streams {
		if r.Err != nil && (r.Status == stream.RunFailed || r.Status == stream.RunCancelled) {
			fmt.Fprintf(w, "%s %s: %s\n", r.ID(), r.Status, scrub(r.Err.Error(), secrets))
		}
	}
}

// outcomeCounts is e.g. "18 ok, 1 failed, 1 skipped".
func outcomeCounts(res *pipeline.Result) string {
	s := strconv.Itoa(res.Count(stream.RunSucceeded)) + " ok"
	for _, st := range []stream.RunStatus{stream.RunFailed, stream.RunCancelled, stream.RunSkipped} {
		if n := res.Count(st); n > 0 {
			s += ", " + strconv.Itoa(n) + " " + string(st)
		}
	}
	return s
}
