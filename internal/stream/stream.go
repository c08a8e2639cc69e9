// Package stream is the shared vocabulary of crmsync: what a stream is, the tables it
// fills, the batches an extractor hands to the loader, and the checkpoint carried with
// each batch. It imports only the standard library so that extractors, the loader and
// the pipeline can meet here without importing each other.
//
// The contract between the parts, in one paragraph: an extractor describes its streams
// with [Desc]; for one run of one stream it receives a [Request] (the stream, the
// partitions' stored cursors or a way to read them, the run options) and sends [Batch] values, in order, on a
// channel. Each batch carries rows for one or more of the stream's tables, the records it
// could not decode, and the partition's cursor to store once those rows are committed.
// The loader writes a batch's rows and its cursor in one transaction, so the stored
// cursor never runs ahead of the data.
//
// # Deletions
//
// Every entity table has deleted_at timestamptz, NULL while the record is in the source.
// A stream that reads a complete list marks what it did not see, in three steps an
// extractor writes with [Pass]:
//
//  1. Every batch of the pass carries Batch.Passes = []Pass{{Table: t, Scope: s}} with
//     its rows for t; the first batch also sets Start (it forgets what an unfinished
//     earlier pass saw). The loader records the rows' keys as seen, in the batch's
//     transaction, so a pass cut off by --max-duration and resumed from its cursor
//     by a later run keeps what it saw; unchanged rows are never rewritten for it.
//  2. The batch that completes the list (often the cursor-only one) sets Done: in its
//     transaction, together with its rows and the cursor saying the pass is over, the
//     rows of t within s that the pass did not see get deleted_at, and their children
//     (tables whose ParentKey points at t) follow. A pass cut off before Done marks
//     nothing.
//  3. Whatever a stream loads (pass or not) is live: a marked row that comes back has
//     deleted_at cleared.
//
// The delete guard (CRMSYNC_DELETE_GUARD, the loader's share) holds a Done back when it
// would mark more than that share of the scope's live rows (an API answering an empty
// or truncated list): nothing is marked, the run's sync.runs row says why, and the next
// complete pass tries again. Desc.Deletions tells `crmsync streams` which streams do this.
// A stream that never sees a complete list (messages by watermark, snapshots) leaves it
// DeletionsUndetected and says so in its table comment.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors shared across packages.
var (
	// ErrUnknownStream is returned when a stream name given by the user matches no
	// registered stream.
	ErrUnknownStream = errors.New("unknown stream")
)

// Mode says how a stream syncs; `crmsync streams` shows it to the user.
type Mode string

// The sync modes.
const (
	// ModeFullRefresh re-reads every record each run and upserts it.
	ModeFullRefresh Mode = "full_refresh"
	// ModeIncremental reads only what changed since the stored cursor (with a lookback),
	// plus a periodic full sweep where the API gives no trace of edits.
	ModeIncremental Mode = "incremental"
	// ModeSnapshot appends a point-in-time copy each run (keyed by its capture time).
	ModeSnapshot Mode = "snapshot"
)

// Column is one loaded column of a table.
type Column struct {
	// Name is the column name in PostgreSQL.
	Name string
	// Type is the column's PostgreSQL type as written in the migration ("text",
	// "bigint", "integer", "boolean", "numeric(12,2)", "double precision",
	// "timestamptz", "jsonb", "text[]", "bigint[]"). The loader does not use it: it
	// reads the types of the target table from the catalog. Extractors' schema tests
	// check it against the migration, and their tests generate values by it.
	Type string
}

// Table describes one target table of a stream.
type Table struct {
	// Name is schema-qualified, e.g. "leeloo.people".
	Name string
	// Key lists the primary-key columns (the upsert's conflict target).
	Key []string
	// Columns lists every column a row carries, in row order, key columns included.
	// synced_at is not listed: the loader sets it when a row is inserted or changed.
	Columns []Column
	// ParentKey is set on child tables only (for example contact tags). It names the
	// child's columns that hold the parent's key, matched by position with
	// Desc.Tables[0].Key. For every parent row in a batch the loader makes the child
	// table hold exactly the batch's child rows for that parent: missing ones are
	// deleted, unchanged ones are left untouched.
	ParentKey []string
}

// Desc describes a stream.
type Desc struct {
	// Source is the platform: "leeloo" or "textrequest".
	Source string
	// Name is the stream name, unique within the source, e.g. "people".
	Name string
	// Description is one line for `crmsync streams`.
	Description string
	// Mode is how the stream syncs.
	Mode Mode
	// Partitioned is true when the stream keeps one cursor per partition (per
	// dashboard, per channel) instead of a single one.
	Partitioned bool
	// CursorsOnDemand is set on a partitioned stream whose partitions grow with the
	// account (one per chat): its cursors are not read whole at the start of a run.
	// Request.State then holds partition "" only, and the extractor reads the others
	// with Request.Lookup as it reaches them, so a run's memory does not grow with
	// the number of partitions.
	CursorsOnDemand bool
	// DefaultOff is true for streams that run only when named explicitly.
	DefaultOff bool
	// Deletions says when the stream marks records deleted at the source (see the
	// package doc); the zero value says it never does.
	Deletions Deletions
	// Tables are the tables the stream fills. Tables[0] is the main table; the others
	// are child tables (ParentKey set) or further tables written in the same
	// transaction.
	Tables []Table
}

// ID is "source.name", the stream's name in logs, locks and `sync.state`.
func (d Desc) ID() string { return d.Source + "." + d.Name }

// Table returns the table with the given name and whether the stream has it.
func (d Desc) Table(name string) (Table, bool) {
	for _, t := range d.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Row is one record's column values, in the order of its Table's Columns.
//
// Values are nil (SQL NULL), string, int64, int32, int, float64, bool, time.Time,
// []string, []int64, json.RawMessage or []byte holding JSON (for jsonb), and a decimal
// string or float64 for numeric columns. Strings and JSON may hold what PostgreSQL
// cannot store (NUL characters, bytes that are not UTF-8): the loader repairs them
// (NULs removed, invalid bytes replaced by U+FFFD) and counts them, so extractors need
// not.
type Row []any

// Reject is a record the extractor received but could not turn into a row (broken JSON
// inside one item, a key missing). The loader writes it to sync.rejects.
type Reject struct {
	// Table is the table the record was meant for ("" when unknown).
	Table string
	// Reason says what is wrong, naming the field.
	Reason string
	// Payload is the record exactly as received (need not be valid JSON, nor UTF-8:
	// the loader escapes what text cannot hold, and keeps an excerpt of a large one).
	Payload []byte
}

// Batch is one unit of work for the loader: rows for the stream's tables plus the
// partition cursor to store in the same transaction. A sent batch belongs to the
// loader, which converts its rows' values in place.
type Batch struct {
	// Partition identifies the checkpoint partition ("" for unpartitioned streams;
	// a dashboard id or channel id otherwise).
	Partition string
	// Rows maps a table name (one of Desc.Tables) to its rows.
	Rows map[string][]Row
	// Rejects are records that could not be decoded.
	Rejects []Reject
	// Cursor is the partition's checkpoint once this batch is committed. Nil leaves the
	// stored cursor as it is.
	Cursor json.RawMessage
	// Requests is the number of API requests made to produce this batch (counted
	// into sync.runs). An extractor that ends (done, failed or cut off) with requests
	// not yet reported sends them in a batch that carries nothing else (RequestsOnly),
	// even after ctx is done: the pipeline receives until the channel is closed.
	Requests int
	// Passes ties the batch to passes over complete lists (see Pass); nil for a batch
	// that is part of no complete list.
	Passes []Pass
	// AfterEarlier makes the batch commit only once every batch sent before it has
	// committed. Batches of different partitions commit in parallel, in any order; a
	// cursor over partitions (a listing page whose chats are partitions of their own)
	// must not be stored ahead of a partition's rows, or a cut-off would lose those
	// rows while the listing moved past them.
	AfterEarlier bool
	// Notes are choices of the run that change its cost (how a partition was read),
	// recorded once each in sync.runs.notes.
	Notes []string
}

// RequestsOnly reports whether b only reports requests (and notes): it has nothing to
// load and no cursor to store, so the pipeline counts it without a transaction. A field added to
// Batch that the loader acts on belongs here too.
func (b Batch) RequestsOnly() bool {
	return b.Len() == 0 && len(b.Rejects) == 0 && b.Cursor == nil && len(b.Passes) == 0
}

// Records is the number of records the batch brings from the API: rows of the
// stream's main table (named main) plus the rejects. Child rows (a person's channel
// links, a contact's tags) are part of their record, not records of their own.
func (b Batch) Records(main string) int {
	return len(b.Rows[main]) + len(b.Rejects)
}

// Len is the number of rows of the batch in all tables.
func (b Batch) Len() int {
	n := 0
	for _, rows := range b.Rows {
		n += len(rows)
	}
	return n
}

// State is a stream's stored checkpoint: the cursor of each partition ("" for an
// unpartitioned stream). A stream that never ran has an empty State.
type State map[string]json.RawMessage

// Request asks an extractor to run one stream once.
type Request struct {
	// Stream is the stream to run.
	Stream Desc
	// State holds the cursors committed by earlier runs: every partition's, or for a
	// stream with Desc.CursorsOnDemand partition "" only (read the others with Lookup).
	State State
	// Cursors reads the committed cursors of the given partitions (those with none are
	// left out). The pipeline sets it for a stream with Desc.CursorsOnDemand; use
	// Lookup, which falls back to State where it is nil.
	Cursors func(ctx context.Context, partitions []string) (State, error)
	// FullRefresh asks for a full read, ignoring the cursors (they are still written).
	FullRefresh bool
	// Started is the run's start time; extractors use it (not time.Now) as "now" so a
	// run has one consistent notion of the present.
	Started time.Time
	// Room waits while the stream already holds as many uncommitted rows as it may, so
	// that a page is not fetched only to wait in memory. The extractor makes its
	// requests with apiclient.NewCounter(req.Room), which waits for it before each
	// request (not before a retry: the request has its room). The pipeline sets it; nil
	// never waits.
	Room func(context.Context) error
}

// Lookup returns the committed cursors of partitions, read through Cursors when set,
// else taken from State. Partitions with no cursor are left out.
func (r Request) Lookup(ctx context.Context, partitions []string) (State, error) {
	if r.Cursors != nil {
		return r.Cursors(ctx, partitions)
	}
	out := make(State, len(partitions))
	for _, p := range partitions {
		if c, ok := r.State[p]; ok {
			out[p] = c
		}
	}
	return out, nil
}

// LoadResult counts what one load (or a whole run) did to the tables.
type LoadResult struct {
	Inserted  int
	Updated   int
	Unchanged int
	Deleted   int // child rows removed because the parent no longer lists them
	Rejected  int
	// NULsCleaned counts values repaired for PostgreSQL: NUL characters removed, bytes
	// that are not UTF-8 replaced by U+FFFD (sync.runs.nuls_cleaned).
	NULsCleaned int
	// MarkedDeleted counts rows a complete pass did not see and marked deleted
	// (deleted_at set), children included; Restored counts marked rows that came
	// back (deleted_at cleared).
	MarkedDeleted int
	Restored      int
	// PassesDone counts completed passes; PassesHeld those of them the delete guard
	// held back (nothing marked).
	PassesDone int
	PassesHeld int
}

// Add accumulates o into r.
func (r *LoadResult) Add(o LoadResult) {
	r.Inserted += o.Inserted
	r.Updated += o.Updated
	r.Unchanged += o.Unchanged
	r.Deleted += o.Deleted
	r.Rejected += o.Rejected
	r.NULsCleaned += o.NULsCleaned
	r.MarkedDeleted += o.MarkedDeleted
	r.Restored += o.Restored
	r.PassesDone += o.PassesDone
	r.PassesHeld += o.PassesHeld
}

// RunStatus is the outcome of one stream run, as stored in sync.runs.
type RunStatus string

// The run outcomes.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	// RunCancelled: the run was stopped (SIGTERM, --max-duration) after committing
	// every complete batch; the next run continues from there.
	RunCancelled RunStatus = "cancelled"
	// RunSkipped: another process held the stream's lock.
	RunSkipped RunStatus = "skipped"
)

// RunRecord is one row of sync.runs: what one run of one stream did.
type RunRecord struct {
	ID       int64
	Source   string
	Stream   string
	Started  time.Time
	Finished time.Time
	Status   RunStatus
	// Requests is the number of API requests the run made, retries included.
	Requests int
	// Read is the number of records received from the API.
	Read int
	// Loaded counts what the loads did.
	Loaded LoadResult
	// Error is the failure, with no secrets ("" on success).
	Error string
	// Notes are the batches' notes, "; "-separated ("" when none).
	Notes string
}

// History is what a stream's earlier runs did, as the pipeline uses it to order a pass.
type History struct {
	// LastStatus, LastRequests and LastStarted describe the last finished run.
	LastStatus   RunStatus
	LastRequests int
	LastStarted  time.Time
	// Synced is true once a run of the stream has succeeded (its first sync is done).
	Synced bool
}
