package textrequest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/stream"
)

// TestMessagesFetchAheadKeepsOrder: fetching several contacts' messages at once hands on
// the same batches, rows in the same order and the same cursors as one contact at a time,
// on a first run and on an incremental one.
func TestMessagesFetchAheadKeepsOrder(t *testing.T) {
	t.Parallel()

	type outcome struct {
		rows    [][]string // per batch, message ids in order
		cursors []string
	}
	run := func(concurrency int) []outcome {
		f := newFakeTR()
		for i := range 12 {
			f.addContact(1, "555200"+strconv.Itoa(i), base, base.Add(time.Duration(i)*time.Hour), 1+i%4)
		}
		ex := fakeSetup(t, f, func(c *Config) { c.Dashboards = []int64{1}; c.Concurrency = concurrency; c.PageSize = 5 })
		ex.flushRows = 6
		state := stream.State{}
		var runs []outcome
		for pass := range 2 {
			if pass == 1 {
				f.addMessage(1, "5552003", base.Add(30*time.Hour), "late-1")
				f.addMessage(1, "5552009", base.Add(31*time.Hour), "late-2")
			}
			var o outcome
			for _, b := range memRun(t, ex, StreamMessages, state, base.Add(48*time.Hour+time.Duration(pass)*time.Hour)) {
				var ids []string
				for _, r := range b.Rows[tblMessages] {
					ids = append(ids, r[0].(string))
				}
				o.rows = append(o.rows, ids)
				o.cursors = append(o.cursors, string(b.Cursor))
			}
			runs = append(runs, o)
		}
		return runs
	}
	one := run(1)
	require.Greater(t, len(one[0].rows), 2, "several batches on the first run")
	require.Contains(t, fmtRows(one[1].rows), "late-1", "the incremental run reads the new messages")
	require.Equal(t, one, run(4))
}

func fmtRows(rows [][]string) []string {
	var all []string
	for _, r := range rows {
		all = append(all, r...)
	}
	return all
}
