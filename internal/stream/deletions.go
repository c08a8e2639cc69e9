package stream

import (
	"maps"
	"slices"
	"strings"
)

// Pass ties a batch to a pass over a complete list of one table: every record of the
// table within Scope, as the API lists it (a full-refresh stream's list, or a sweep of an
// incremental one). See the package doc, "Deletions".
//
// Every batch of the pass carries it (with the pass's rows for Table): the loader records
// those rows' keys as seen, in the batch's transaction. The pass's first batch sets Start,
// its last sets Done. A pass may span several runs (a first sync cut off by
// --max-duration and resumed from its cursor): the keys seen so far are stored with the
// cursors, so the run that reaches the end marks what the whole pass did not see.
type Pass struct {
	// Table is the table whose complete list the pass reads (one of Desc.Tables,
	// usually Tables[0]). Child tables (ParentKey set) follow their parent: when a
	// parent row is marked deleted, so are its children.
	Table string
	// Scope restricts the list to the rows whose columns hold these values, e.g.
	// {"dashboard_id": "12"} for one dashboard's groups; nil means the whole table.
	// Values are written as the loader writes keys: decimal for integers.
	Scope Scope
	// Start is set on the pass's first batch: keys recorded by an earlier pass over the
	// same table and scope that never finished are forgotten.
	Start bool
	// Done is set on the batch that completes the list (it may carry no rows): rows of
	// Table within Scope that the pass did not see are marked deleted (deleted_at set),
	// unless the delete guard holds them back.
	Done bool
}

// Scope restricts a Pass to the rows whose columns hold the given values.
type Scope map[string]string

// String renders the scope canonically ("dashboard_id=12"; "" for the whole table), as
// it is stored with the keys a pass has seen.
func (s Scope) String() string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(s)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + s[k])
	}
	return b.String()
}

// Deletions says how a stream notices records deleted at the source; `crmsync streams`
// shows it.
type Deletions string

// How streams notice deletions.
const (
	// DeletionsUndetected: the stream never reads a complete list (messages read by
	// watermark, snapshots), so a record deleted at the source stays as it was. The
	// zero value, so a stream says nothing it does not do.
	DeletionsUndetected Deletions = ""
	// DeletionsEveryRun: each run reads the complete list and marks what is gone.
	DeletionsEveryRun Deletions = "every run"
	// DeletionsSweep: each full sweep (first sync, --full-refresh, the periodic sweep)
	// reads the complete list and marks what is gone.
	DeletionsSweep Deletions = "full sweeps"
)

// Text is the value `crmsync streams` prints.
func (d Deletions) Text() string {
	if d == DeletionsUndetected {
		return "not detected"
	}
	return string(d)
}
