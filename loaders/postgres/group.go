package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/internal/checkpoint"
	"github.com/crmsync/crmsync/internal/stream"
)

// partitionCursor is the cursor to store for one partition after a group commit.
type partitionCursor struct {
	partition string
	cursor    json.RawMessage
}

// combine merges the batches of one Load, in order, into one batch whose effect equals
// loading them one after another:
//
//   - rows are concatenated per table, so the dedupe by key keeps a key's latest row;
//   - rejects are concatenated;
//   - each partition keeps the cursor of its last batch that carries one;
//   - a parent (a main-table row) listed again by a later batch takes its children from
//     that later batch only: the earlier batch's child rows for it are dropped, so the
//     child replacement deletes what the later batch no longer lists.
func combine(desc stream.Desc, batches []stream.Batch) (stream.Batch, []partitionCursor) {
	var cursors []partitionCursor
	at := map[string]int{} // partition → index in cursors
	for _, b := range batches {
		if b.Cursor == nil {
			continue
		}
		if i, ok := at[b.Partition]; ok {
			cursors[i].cursor = b.Cursor
			continue
		}
		at[b.Partition] = len(cursors)
		cursors = append(cursors, partitionCursor{b.Partition, b.Cursor})
	}
	if len(batches) == 1 {
		return batches[0], cursors
	}

	out := stream.Batch{Rows: map[string][]stream.Row{}}
	for _, b := range batches {
		out.Rejects = append(out.Rejects, b.Rejects...)
		out.Requests += b.Requests
	}
	lastParent := lastParentBatch(desc, batches)
	for _, t := range desc.Tables {
		n := 0
		for _, b := range batches {
			n += len(b.Rows[t.Name])
		}
		if n == 0 {
			continue
		}
		pidx := columnIndexes(t, t.ParentKey)
		rows := make([]stream.Row, 0, n)
		for i, b := range batches {
			for _, r := range b.Rows[t.Name] {
				if lastParent != nil && pidx != nil {
					if j, ok := lastParent[rowKey(r, pidx)]; ok && j > i {
						continue // its parent is listed again later, with its children then
					}
				}
				rows = append(rows, r)
			}
		}
		out.Rows[t.Name] = rows
	}
	return out, cursors
}

// lastParentBatch maps each main-table key that appears in more than one of the
// batches to the index of the last batch listing it. It is nil when the stream has no
// child tables or no key repeats across batches (then no child row is dropped).
func lastParentBatch(desc stream.Desc, batches []stream.Batch) map[string]int {
	if len(desc.Tables) < 2 || !slices.ContainsFunc(desc.Tables[1:], func(t stream.Table) bool { return len(t.ParentKey) > 0 }) {
		return nil
	}
	main := desc.Tables[0]
	idx := columnIndexes(main, main.Key)
	if idx == nil {
		return nil
	}
	last := map[string]int{}
	repeated := false
	for i, b := range batches {
		for _, r := range b.Rows[main.Name] {
			k := rowKey(r, idx)
			if j, ok := last[k]; ok && j != i {
				repeated = true
			}
			last[k] = i
		}
	}
	if !repeated {
		return nil
	}
	return last
}

// columnIndexes returns the positions of cols in t's columns, or nil when one is missing
// (prepare reports a malformed table; combine then leaves the rows as they are).
func columnIndexes(t stream.Table, cols []string) []int {
	if len(cols) == 0 {
		return nil
	}
	idx := make([]int, len(cols))
	for i, name := range cols {
		idx[i] = slices.IndexFunc(t.Columns, func(c stream.Column) bool { return c.Name == name })
		if idx[i] < 0 {
			return nil
		}
	}
	return idx
}

// rowKey renders a row's values at idx as one comparable string. A number and its
// decimal string render alike, as in the loader's text keys.
func rowKey(r stream.Row, idx []int) string {
	var b strings.Builder
	for _, i := range idx {
		if i >= len(r) {
			b.WriteString("\x01")
			continue
		}
		switch v := r[i].(type) {
		case nil:
			b.WriteString("\x01")
		case string:
			b.WriteString(v)
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case int:
			b.WriteString(strconv.Itoa(v))
		case int32:
			b.WriteString(strconv.FormatInt(int64(v), 10))
		default:
			fmt.Fprint(&b, v)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// saveCursors stores every partition's cursor, in one statement.
func saveCursors(ctx context.Context, db DBTX, desc stream.Desc, cursors []partitionCursor) error {
	if len(cursors) == 0 {
		return nil
	}
	partitions := make([]string, len(cursors))
	values := make([]json.RawMessage, len(cursors))
	for i, c := range cursors {
		partitions[i], values[i] = c.partition, c.cursor
	}
	return checkpoint.SaveAll(ctx, db, desc.Source, desc.Name, partitions, values)
}
