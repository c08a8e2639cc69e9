package push

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Plan is what a push run found to do with its query's rows.
type Plan struct {
	// Read is the rows the query returned.
	Read int
	// To send: new keys, changed payloads, retries of failed or unmatched rows, rows
	// whose outcome was unknown (with RetryUnknown), rows changed in the destination
	// since they were sent.
	New, Changed, Retry, RetryUnknown, Drift int
	// Not sent: unchanged, given up (max_attempts reached), unknown (without
	// RetryUnknown), already held by the destination as last synced.
	Unchanged, GivenUp, UnknownKept, Already int
	// Bad is the rows recorded failed without a request (a bad row, a repeated key),
	// and NoKey those without a key at all (reported, not recorded: nothing to key them by).
	Bad   int
	NoKey []string
	// Preview keeps the first rows of each kind: send, update, retry, fail, skip.
	Preview map[string][]PreviewRow

	due, local, already []entry
}

// ToSend is the rows the run sends.
func (p *Plan) ToSend() int { return p.New + p.Changed + p.Retry + p.RetryUnknown + p.Drift }

// PreviewRow is one row shown by a dry run.
type PreviewRow struct {
	Key     string
	Payload string
	Note    string
}

// entry is one key's row on its way to the ledger.
type entry struct {
	item     Item
	payload  []byte
	hash     string
	attempts int
	status   Status
	err      string
	result   any
}

// ledgerRow is a key's row in sync.pushes.
type ledgerRow struct {
	hash     string
	status   Status
	attempts int
	sentAt   time.Time
}

// readPlan runs the query in a read-only transaction, prepares its rows and compares
// them with the ledger.
func readPlan(ctx context.Context, cfg Config, opt Options) (*Plan, error) {
	p, w := cfg.Push, cfg.Writer
	tx, err := cfg.Pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("push %q: begin read-only transaction: %w", p.Name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if s, ok := w.(Starter); ok {
		if err := s.Start(ctx, tx); err != nil {
			return nil, fmt.Errorf("push %q: %w", p.Name, err)
		}
	}
	rows, err := readRows(ctx, tx, p.Query, w.Columns())
	if err != nil {
		if isQueryError(err) || errorsIsConfig(err) {
			return nil, configError(p, err)
		}
		return nil, fmt.Errorf("push %q: run query: %w", p.Name, err)
	}
	led, err := loadLedger(ctx, tx, p.Name)
	if err != nil {
		return nil, err
	}

	plan := &Plan{Read: len(rows), Preview: map[string][]PreviewRow{}}
	preview := func(kind string, e entry, note string) {
		if len(plan.Preview[kind]) < cmp.Or(opt.Preview, 5) {
			plan.Preview[kind] = append(plan.Preview[kind], PreviewRow{Key: e.item.Key, Payload: string(e.payload), Note: note})
		}
	}

	// Prepare every row; a key's rows are gathered to find repeats.
	type prepared struct {
		e   entry
		err error
		n   int // rows with this key
	}
	byKey := map[string]*prepared{}
	var order []string
	for _, r := range rows {
		item, err := w.Prepare(r)
		if item.Key == "" {
			msg := fmt.Sprintf("row %d: no key", r.N)
			if err != nil {
				msg = fmt.Sprintf("row %d: %v", r.N, err)
			}
			plan.NoKey = append(plan.NoKey, msg)
			continue
		}
		if pr := byKey[item.Key]; pr != nil {
			pr.n++
			continue
		}
		e := entry{item: item}
		if err != nil {
			e.payload = marshal(r.vals) // a bad row is keyed by what the query returned
		} else {
			e.payload = marshal(item.Payload)
		}
		e.hash = hashPayload(e.payload)
		byKey[item.Key] = &prepared{e: e, err: err, n: 1}
		order = append(order, item.Key)
	}

	var good []entry
	var goodLedger []*ledgerRow
	for _, k := range order {
		pr := byKey[k]
		e, lr := pr.e, led[k]
		if pr.n > 1 {
			pr.err = fmt.Errorf("key %q is repeated in the query result (%d rows); none of them is sent", k, pr.n)
			e.hash = hashPayload(fmt.Appendf(e.payload, "/repeated %d", pr.n))
		}
		kind, attempts := classify(lr, e.hash, p.MaxAttempts, opt.RetryUnknown)
		e.attempts = attempts
		if pr.err != nil {
			if kind == "" {
				plan.count(kindOfSkip(lr, p.MaxAttempts))
				continue
			}
			e.status, e.err = Failed, pr.err.Error()
			plan.Bad++
			plan.local = append(plan.local, e)
			preview("fail", e, e.err)
			continue
		}
		e.status = Sending
		good = append(good, e)
		goodLedger = append(goodLedger, lr)
	}

	held := make([]Held, len(good))
	if c, ok := w.(Comparer); ok && len(good) > 0 {
		items := make([]Item, len(good))
		for i, e := range good {
			items[i] = e.item
		}
		if held, err = c.Compare(ctx, tx, items); err != nil {
			return nil, fmt.Errorf("push %q: compare with the destination's last synced state: %w", p.Name, err)
		}
	}
	for i, e := range good {
		lr, h := goodLedger[i], held[i]
		kind, _ := classify(lr, e.hash, p.MaxAttempts, opt.RetryUnknown)
		switch {
		case kind == "" && lr.status == Sent && !h.Same && !h.SyncedAt.IsZero() && h.SyncedAt.After(lr.sentAt):
			kind, e.attempts = "drift", 1
		case kind == "":
			plan.count(kindOfSkip(lr, p.MaxAttempts))
			preview("skip", e, kindOfSkip(lr, p.MaxAttempts))
			continue
		case h.Same:
			e.status, e.result = Sent, map[string]string{"skipped": "the destination already holds this value (last sync)"}
			plan.Already++
			plan.already = append(plan.already, e)
			preview("skip", e, "already held")
			continue
		}
		plan.count(kind)
		plan.due = append(plan.due, e)
		switch kind {
		case "new":
			preview("send", e, "new")
		case "changed", "drift":
			preview("update", e, kind)
		default:
			preview("retry", e, fmt.Sprintf("%s, attempt %d", kind, e.attempts))
		}
	}
	return plan, nil
}

// classify says why a row is due ("" when it is not) and its attempt number.
func classify(lr *ledgerRow, hash string, maxAttempts int, retryUnknown bool) (kind string, attempts int) {
	switch {
	case lr == nil:
		return "new", 1
	case lr.hash != hash:
		return "changed", 1
	}
	switch lr.status {
	case Failed, Unmatched:
		if lr.attempts < maxAttempts {
			return "retry", lr.attempts + 1
		}
	case Unknown, Sending:
		if retryUnknown {
			return "unknown", lr.attempts + 1
		}
	}
	return "", lr.attempts
}

// kindOfSkip says why a row that is not due is skipped.
func kindOfSkip(lr *ledgerRow, maxAttempts int) string {
	switch lr.status {
	case Sent:
		return "unchanged"
	case Unknown, Sending:
		return "unknown (crmsync push --retry-unknown sends it again)"
	}
	return fmt.Sprintf("given up after %d attempts", lr.attempts)
}

func (p *Plan) count(kind string) {
	switch kind {
	case "new":
		p.New++
	case "changed":
		p.Changed++
	case "retry":
		p.Retry++
	case "unknown":
		p.RetryUnknown++
	case "drift":
		p.Drift++
	case "unchanged":
		p.Unchanged++
	case "unknown (crmsync push --retry-unknown sends it again)":
		p.UnknownKept++
	default:
		p.GivenUp++
	}
}

// readRows runs the query and returns its rows, after checking its columns.
func readRows(ctx context.Context, q Querier, sql string, want []Column) ([]Row, error) {
	rs, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	fields := rs.FieldDescriptions()
	if len(fields) == 0 {
		// The statement failed before describing its rows (a write refused by the
		// read-only transaction): its error says more than "no columns".
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	if err := checkColumns(fields, want); err != nil {
		return nil, errConfigColumns{err}
	}
	var out []Row
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(fields))
		for i, f := range fields {
			m[f.Name] = vals[i]
		}
		out = append(out, Row{N: len(out) + 1, vals: m})
	}
	return out, rs.Err()
}

// errConfigColumns is a column check's failure (a configuration error).
type errConfigColumns struct{ error }

func (e errConfigColumns) Unwrap() error { return e.error }

func errorsIsConfig(err error) bool {
	_, ok := err.(errConfigColumns)
	return ok
}

// loadLedger reads the push's rows of sync.pushes.
func loadLedger(ctx context.Context, q Querier, push string) (map[string]*ledgerRow, error) {
	rows, err := q.Query(ctx, `select key, payload_hash, status, attempts, sent_at from sync.pushes where push = $1`, push)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return nil, fmt.Errorf("push %q: the database has no sync.pushes: run crmsync migrate first (a dry run does not migrate)", push)
	}
	if err != nil {
		return nil, fmt.Errorf("push %q: read sync.pushes: %w", push, err)
	}
	out := map[string]*ledgerRow{}
	var key, hash, status string
	var attempts int
	var sentAt *time.Time
	_, err = pgx.ForEachRow(rows, []any{&key, &hash, &status, &attempts, &sentAt}, func() error {
		lr := &ledgerRow{hash: hash, status: Status(status), attempts: attempts}
		if sentAt != nil {
			lr.sentAt = *sentAt
		}
		out[key] = lr
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("push %q: read sync.pushes: %w", push, err)
	}
	return out, nil
}

// jsonText returns b as a JSON text parameter (nil for none).
func jsonText(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(json.RawMessage(b))
	return &s
}
