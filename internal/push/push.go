// Package push is the push engine (DESIGN.md, "Pushes"): it runs a push's query in a
// read-only transaction, compares each row's payload hash with the ledger
// (sync.pushes), hands what is new, changed or due for a retry to the destination's
// Writer in batches, and records every row's outcome. The writers (loaders/calltouch,
// loaders/twin) know their API; the engine knows the ledger.
//
// A row is due when its key is new, its payload hash differs from the one last
// recorded, it failed or was unmatched fewer than max_attempts times, or (with
// RetryUnknown) its outcome is unknown. A Writer that is AtMostOnce (Calltouch adds a
// comment on every call) has its rows committed as 'sending' before each request; a run
// that finds rows still 'sending' (the process died mid-request) marks them 'unknown',
// and unknown rows are sent again only with RetryUnknown. A row the writer cannot use
// (Prepare's error) or whose key the query repeats is recorded 'failed' without a
// request, and the rest go on. Two processes never run one push at once (an advisory
// lock, like a stream's).
package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/crmsync/crmsync/internal/apiclient"
	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/stream"
)

// Source is sync.runs.source of push runs (their stream is the push's name).
const Source = "push"

// Status is a row's outcome, as sync.pushes.status.
type Status string

// Row outcomes.
const (
	Sent      Status = "sent"
	Failed    Status = "failed"
	Unmatched Status = "unmatched"
	Sending   Status = "sending"
	Unknown   Status = "unknown"
)

// Item is a row ready to send: its key and the payload the writer sends (marshalled to
// JSON for the ledger and its hash).
type Item struct {
	Key     string
	Payload any
}

// Outcome is what became of one item sent.
type Outcome struct {
	Status Status
	// Error says why it was not sent (Failed, Unmatched, Unknown).
	Error string
	// Result is what the API answered for the item (stored as JSON); nil for none.
	Result any
}

// Writer sends rows to one destination.
type Writer interface {
	// Columns are the columns the destination reads from the query.
	Columns() []Column
	// Prepare turns a query row into an item. An error is a row that cannot be sent
	// (recorded failed with the error's text); the returned item's Key must still be set
	// when the row has one ("" when the key itself is missing).
	Prepare(r Row) (Item, error)
	// BatchSize is the most items one Send takes.
	BatchSize() int
	// AtMostOnce says the API cannot tell a repeated request from a new one, so an
	// item whose request may have reached it is never sent again automatically.
	AtMostOnce() bool
	// Send sends items and returns one outcome per item, in order. A non-nil error stops
	// the push after the outcomes are recorded (bad credentials: the next batches would
	// fail too). n counts the requests, for the run's record; the writer makes every
	// request with it.
	Send(ctx context.Context, n *apiclient.Counter, items []Item) ([]Outcome, error)
}

// Querier runs queries (the push's read-only transaction).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Starter is a Writer that reads what Prepare needs from the warehouse (a catalog)
// before the query's rows are prepared, in the same read-only transaction.
type Starter interface {
	Start(ctx context.Context, q Querier) error
}

// Comparer is a Writer that knows, from the warehouse's own copy of the destination
// (what the last sync read), whether the destination already holds each item.
type Comparer interface {
	Compare(ctx context.Context, q Querier, items []Item) ([]Held, error)
}

// Held is what the warehouse's copy says of one item.
type Held struct {
	// Same is true when the copy shows the destination holding the item's payload:
	// nothing needs sending.
	Same bool
	// SyncedAt is when the copy was last written (zero: no copy). A copy that differs
	// and was written after the item was last sent means the destination changed since:
	// the item is sent again.
	SyncedAt time.Time
}

// Config is one push to run.
type Config struct {
	Push   config.Push
	Writer Writer
	Pool   *pgxpool.Pool
	Logger *slog.Logger
}

// Options are one run's choices.
type Options struct {
	// DryRun reads and compares but sends and writes nothing.
	DryRun bool
	// RetryUnknown sends again the rows whose outcome is unknown.
	RetryUnknown bool
	// Preview is how many rows of each kind a Plan keeps (default 5).
	Preview int
}

// ErrConfig marks an error in the push's configuration or query (exit code 2).
var ErrConfig = errors.New("push configuration")

// Result is what one push run did.
type Result struct {
	Push        string
	Destination string
	Status      stream.RunStatus
	// Read is the rows the query returned.
	Read int
	// Outcomes of this run (rows recorded failed without a request included in Failed).
	Sent, Failed, Unmatched, Unknown int
	// Skipped counts rows not sent: unchanged, given up, unknown, or already held.
	Skipped  int
	Requests int
	Duration time.Duration
	// Plan is what the run found to do (all a dry run does).
	Plan *Plan
	// Err is why the run failed or stopped.
	Err error

	runID int64
}

// Run runs one push. It returns an error wrapping ErrConfig for a query that fails to
// run or lacks the destination's columns; other failures are in Result.Err with
// Result.Status failed.
func Run(ctx context.Context, cfg Config, opt Options) (*Result, error) {
	start := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := cfg.Push
	res := &Result{Push: p.Name, Destination: p.Destination, Status: stream.RunSucceeded}
	finish := func() *Result {
		res.Duration = time.Since(start)
		return res
	}

	release, ok, err := checkpoint.New(cfg.Pool).TryLock(ctx, Source, p.Name)
	if err != nil {
		res.Status, res.Err = stream.RunFailed, err
		return finish(), nil
	}
	if !ok {
		res.Status = stream.RunSkipped
		res.Err = errors.New("another process is running this push")
		return finish(), nil
	}
	defer release()

	l := &ledger{pool: cfg.Pool, push: p.Name, destination: p.Destination}
	if !opt.DryRun {
		if res.runID, err = l.startRun(ctx); err != nil {
			res.Status, res.Err = stream.RunFailed, err
			return finish(), nil
		}
		defer func() { l.finishRun(ctx, res) }()
		// A row left 'sending' by a run that died may have reached the API.
		n, err := l.orphansToUnknown(ctx, res.runID)
		if err != nil {
			res.Status, res.Err = stream.RunFailed, err
			return finish(), nil
		}
		if n > 0 {
			log.Warn("push rows left sending by an earlier run are now unknown", "push", p.Name, "rows", n)
		}
	}

	plan, err := readPlan(ctx, cfg, opt)
	if err != nil {
		res.Status, res.Err = stream.RunFailed, err
		if errors.Is(err, ErrConfig) {
			return finish(), err
		}
		return finish(), nil
	}
	res.Plan, res.Read = plan, plan.Read
	res.Skipped = plan.Unchanged + plan.GivenUp + plan.UnknownKept + plan.Already
	if opt.DryRun {
		return finish(), nil
	}

	counter := apiclient.NewCounter(nil)
	res.Err = send(ctx, counter, cfg, l, plan, res, log)
	res.Requests = counter.Take()
	switch {
	case res.Err != nil && ctx.Err() != nil:
		res.Status = stream.RunCancelled
	case res.Err != nil:
		res.Status = stream.RunFailed
	}
	log.Info("push finished", "push", p.Name, "destination", p.Destination, "status", res.Status,
		"read", res.Read, "sent", res.Sent, "failed", res.Failed, "unmatched", res.Unmatched,
		"unknown", res.Unknown, "skipped", res.Skipped, "requests", res.Requests)
	return finish(), nil
}

// send records the rows that failed without a request, then sends the due items in
// batches and records their outcomes.
func send(ctx context.Context, counter *apiclient.Counter, cfg Config, l *ledger, plan *Plan, res *Result, log *slog.Logger) error {
	w := cfg.Writer
	if err := l.save(ctx, res.runID, plan.local); err != nil {
		return err
	}
	res.Failed += len(plan.local)
	if err := l.save(ctx, res.runID, plan.already); err != nil {
		return err
	}
	var failure error
	for batch := range slices.Chunk(plan.due, max(w.BatchSize(), 1)) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped before sending %d rows: %w", countFrom(plan.due, batch), context.Cause(ctx))
		}
		if w.AtMostOnce() {
			pending := make([]entry, len(batch))
			for i, e := range batch {
				e.status, e.err, e.result = Sending, "", nil
				pending[i] = e
			}
			if err := l.save(ctx, res.runID, pending); err != nil {
				return err
			}
		}
		items := make([]Item, len(batch))
		for i, e := range batch {
			items[i] = e.item
		}
		outs, err := w.Send(ctx, counter, items)
		if len(outs) != len(batch) {
			// A writer bug; the rows' fate is unknown to us.
			outs = make([]Outcome, len(batch))
			for i := range outs {
				outs[i] = Outcome{Status: Unknown, Error: "the writer returned no outcome for this row"}
			}
		}
		done := make([]entry, len(batch))
		requestFailed := false
		for i, e := range batch {
			o := outs[i]
			if !w.AtMostOnce() && o.Status == Unknown {
				o.Status = Failed // an idempotent write is simply tried again
			}
			e.status, e.err, e.result = o.Status, o.Error, o.Result
			done[i] = e
			switch o.Status {
			case Sent:
				res.Sent++
			case Unmatched:
				res.Unmatched++
			case Unknown:
				res.Unknown++
				requestFailed = true
			default:
				res.Failed++
			}
		}
		// The outcomes are recorded even when a SIGTERM came during the request.
		if err := l.save(context.WithoutCancel(ctx), res.runID, done); err != nil {
			return err
		}
		if err != nil {
			return err
		}
		if requestFailed && failure == nil {
			failure = errors.New("a request's outcome was lost; its rows are unknown (see sync.pushes)")
		}
	}
	if failure != nil {
		log.Warn("push request outcome lost", "push", cfg.Push.Name, "unknown", res.Unknown)
	}
	return failure
}

func countFrom(all, rest []entry) int {
	if len(rest) == 0 {
		return 0
	}
	return len(all) - slices.IndexFunc(all, func(e entry) bool { return e.item.Key == rest[0].item.Key })
}

// hashPayload is the hex SHA-256 of the payload's JSON.
func hashPayload(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// configError wraps a problem of the push's configuration or query.
func configError(p config.Push, err error) error {
	where := ""
	if p.Line > 0 {
		where = fmt.Sprintf(" (line %d)", p.Line)
	}
	return fmt.Errorf("%w: push %q%s: %w", ErrConfig, p.Name, where, err)
}

// isQueryError reports whether err is the query's own fault (syntax, unknown
// relation or column, permission, a type error) rather than the database's state.
func isQueryError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "42", "22", "25": // syntax/access, data exception, invalid transaction state (a write in a read-only query)
		return true
	}
	return false
}

// marshal is json.Marshal for payloads and results built by writers (plain data).
func marshal(v any) []byte {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"unencodable": err.Error()})
	}
	return b
}
