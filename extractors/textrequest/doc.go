// Package textrequest reads the Text Request REST API v3 (reference:
// /work/shared/reference/textrequest-api.md, "the reference") into the textrequest.*
// warehouse tables of migrations/00003_create_textrequest.sql.
//
// # Streams
//
// Every stream but dashboards is partitioned by dashboard: each dashboard keeps its own
// cursor in sync.state (partition = the dashboard id) and dashboards are read in
// parallel up to Config.Concurrency. The dashboards come from Config.Dashboards
// (TEXTREQUEST_DASHBOARDS) or from GET /dashboards, fetched once per run.
//
//	dashboards     /dashboards (or /dashboards/{id} per configured id)     full refresh
//	contacts       /dashboards/{id}/contacts (+ tags, groups, field links) incremental, periodic sweep
//	conversations  /dashboards/{id}/conversations?include_archived=true    full scan
//	messages       /dashboards/{id}/messages (dashboard-wide list), else  since the watermark
//	               /dashboards/{id}/contacts/{phone}/messages              changed contacts only
//	payments       /dashboards/{id}/payments?sort_type=date&sort_direction=desc  newest first to the watermark, periodic sweep
//	groups, tags   /dashboards/{id}/groups, /tags                          full refresh
//	custom_fields  /dashboards/{id}/fields (a bare array, not paged)       full refresh
//
// The incremental logic of contacts, messages and payments is described on runContacts,
// runMessages and runPayments, their cursors on contactsCursor, messagesCursor and
// paymentsCursor; the full-refresh streams keep a listCursor. Every cursor is versioned
// ({"v":1,…}); one that cannot be read is ignored with a warning (a full read).
//
// # Paging and the request budget
//
// Lists are read with apiclient.PagePages: 0-based pages, stopping on a 204, an empty
// page, or when the total is reached, paging by the size the server returned rather than
// the size asked (Config.PageSize, default 100; the API documents no maximum). The
// account's budget (100 requests a minute by default) is enforced by the shared
// apiclient.Client; this package keeps the incremental path frugal instead: two filtered
// contact scans, messages only for contacts that moved, payments stopping at the
// watermark (read one page at a time, so no request is spent past the stop), and the
// dashboard list fetched once per run. While a dashboard's contacts or payments fitted in
// one page at the last sweep, a full read costs one request — no more than the
// incremental one — and is used instead, which also catches edits and status changes
// that leave no trace in timestamps. Each batch reports the requests spent for it.
//
// # Commit points
//
// One batch per page (messages: per contacts page, or after the contact that brings it
// past 5,000 rows), each
// carrying the cursor that resumes after it, so a run killed at any point re-reads at most
// one page and never skips one. Rows are de-duplicated by key within a batch (offset
// paging on live data can repeat a record; the upsert makes repeats across batches
// harmless). Records inserted during a contacts scan (total_items grows) can be missed by
// page-based paging, so one catch-up scan by creation or activity time follows it.
//
// # Decoding
//
// Each item is decoded on its own with encoding/json into a DTO of lenient fields
// (extractors/internal/lenient): strings, numbers sent as strings and strings sent as
// numbers are accepted; booleans also as "true"/"false"/1/0; null and missing fields
// become NULL; timestamps go through apiclient.ParseTime (with or without Z, with
// fractional seconds). An item that is not an object, lacks its key, or has a field of
// the wrong type (text where a number is due, an unparseable timestamp, an object where
// text is due) becomes a stream.Reject naming the field, and the rest of the page loads.
// raw keeps every item exactly as received, unknown fields included. A body cut short is
// retried (lenient.Body through GetDecode).
//
// The messages stream fetches up to Config.Concurrency contacts of a contacts page ahead
// and applies them in list order (contactWindow), so its batches and cursors are those of
// a one-at-a-time read.
//
// # One record, from an HTTP page to a table row
//
// A payment, for example:
//
//  1. runPayments (one dashboard's partition) calls e.resume, which pages the list with
//     apiclient.PagePages; each page is one GET through e.getList and the shared
//     apiclient.Client: the request waits for the account's rate window and for the
//     stream's room in the pipeline (the apiclient.Counter made from stream.Request.Room),
//     is retried on 429/5xx/a cut body, and is counted.
//  2. decodeList splits the body into the page's items, each a json.RawMessage as received.
//  3. mapPayment decodes one item with lenient.Decode into its DTO and builds the
//     stream.Row of textrequest.payments (typed values, the item as raw); an item that does
//     not fit becomes a stream.Reject instead.
//  4. The page's rows, its rejects and the cursor that resumes after it (paymentsCursor)
//     go out as one stream.Batch on the channel Extract was given.
//  5. internal/pipeline queues the batch for the stream's load worker, which calls
//     loaders/postgres Loader.Load: the rows are converted to the table's column types,
//     repaired if PostgreSQL cannot store their text, COPYed into a staging table and
//     merged into textrequest.payments (insert, or update only when a value changed);
//     rejects go to sync.rejects and the cursor to sync.state, all in one transaction.
//
// Phones are stored as returned plus a digits-only column; a contact phone is sent in
// URL paths as returned and escaped by apiclient. A message without an id gets the stable
// key described on derivedMessageID, and message_id_derived = true.
package textrequest
