package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/simulator"
)

// corrupt serves h, rewriting the first occurrence of each field's opening in the
// answers of paths ending with a key of edits: a proxy putting into one record per page
// what PostgreSQL text cannot store.
func corrupt(h http.Handler, edits map[string][2]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for suffix, e := range edits {
			if strings.HasSuffix(r.URL.Path, suffix) {
				body = bytes.Replace(body, []byte(e[0]), []byte(e[1]), 1)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// TestRunLoadsInvalidUTF8AndNUL: a record per page with invalid UTF-8 and a NUL on each
// source loads with the rest of its batch, repaired as documented (U+FFFD, NUL
// removed) in its typed column and raw, and every stream's cursor advances.
func TestRunLoadsInvalidUTF8AndNUL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, simulator.Options{})
	const bad = "Bad\xff\xfe\\u0000Name\xc3("
	proxy := httptest.NewServer(corrupt(tb.sim.Handler(), map[string][2]string{
		"/api/v2/orders": {`"offerName":"`, `"offerName":"` + bad},
		"/api/v2/people": {`"name":"`, `"name":"` + bad},
		"/contacts":      {`"note":null`, `"note":"` + bad + `"`},
		"/payments":      {`"description":"`, `"description":"` + bad},
	}))
	t.Cleanup(proxy.Close)
	env := with(tb.env, "LEELOO_BASE_URL", proxy.URL, "TEXTREQUEST_BASE_URL", proxy.URL+"/api/v3")

	r := cliRun(ctx, t, env, "run", "--stream", "leeloo.orders,leeloo.people,textrequest.contacts,textrequest.payments")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	truth := tb.sim.Truth()
	require.Equal(t, len(truth.Leeloo.Orders), tb.count(t, "leeloo.orders"))
	require.Equal(t, len(truth.Leeloo.People), tb.count(t, "leeloo.people"))
	require.Equal(t, len(truth.TextRequest.Contacts), tb.count(t, "textrequest.contacts"))
	require.Equal(t, len(truth.TextRequest.Payments), tb.count(t, "textrequest.payments"))

	const repaired = "Bad\uFFFD\uFFFDName\uFFFD("
	for table, col := range map[string]string{
		"leeloo.orders": "offer_name", "leeloo.people": "name",
		"textrequest.contacts": "note", "textrequest.payments": "description",
	} {
		var typed, raw int
		require.NoError(t, tb.pool.QueryRow(ctx, `select count(*) filter (where starts_with(`+col+`, $1)),
			count(*) filter (where strpos(raw::text, $1) > 0) from `+table, repaired).Scan(&typed, &raw))
		require.Positive(t, typed, "%s.%s repaired", table, col)
		require.Equal(t, typed, raw, "%s: raw repaired as the column", table)
	}
	var rejected, repairedCount, streams int
	require.NoError(t, tb.pool.QueryRow(ctx, `select coalesce(sum(rows_rejected), 0), coalesce(sum(nuls_cleaned), 0),
		count(*) filter (where status = 'succeeded') from sync.runs`).Scan(&rejected, &repairedCount, &streams))
	require.Zero(t, rejected)
	require.Positive(t, repairedCount)
	require.Equal(t, 4, streams)
	var cursors int
	require.NoError(t, tb.pool.QueryRow(ctx, `select count(distinct stream) from sync.state
		where stream in ('orders', 'people', 'contacts', 'payments')`).Scan(&cursors))
	require.Equal(t, 4, cursors, "every stream stored its cursor")
}
