// Package calltouch reads Calltouch's calls journal and requests (leads) journal
// (reference: /work/shared/reference/calltouch-api.md) into calltouch.calls and
// calltouch.requests (migrations/00007_create_calltouch.sql).
//
// # Windows and requests
//
// Both journals are read by periods of days of the cabinet's calendar (Moscow time):
//
//	calls     GET /calls-service/RestAPI/{siteId}/calls-diary/calls
//	          ?dateFrom=dd/mm/yyyy&dateTo=dd/mm/yyyy&page=N&limit=1000
//	          &withCallTags=true&withComments=true&withOrders=true
//	requests  GET /calls-service/RestAPI/requests?siteId=…&dateFrom=mm/dd/yyyy&dateTo=mm/dd/yyyy
//	          &withRequestTags=true
//
// The token travels as clientApiId in the query (QueryAuth). The API's one-day rule
// applies only to the unpaged form, so the calls journal is always asked with page and
// limit (1000, the documented maximum; a server that caps it lower is paged by what it
// returns) and a window of up to 90 days (Config.WindowDays; third-party code chunks to
// 90 days, the API's "3 months"): a window costs ceil(calls/1000) requests, never fewer
// than one. One request per day would cost a request for every day, calls or not. The
// requests journal returns a bare array for its whole period (page and limit are not
// known to be honoured), one request per window.
//
// # Incremental runs and the cursor
//
// A first sync (or --full-refresh) reads from Config.StartDate (CALLTOUCH_START_DATE)
// through today. Later runs start Config.Lookback (CALLTOUCH_LOOKBACK, default 14 days)
// before the last day read: calls change after the call (tags, comments, deals, the
// target flag, the manager) without any trace the journal could filter on, so the only
// way to see those edits is to read the days again. Today is always read again.
//
// The cursor ({"v":1,"done":"YYYY-MM-DD","run":{…}}) records the last day a completed
// run read through and the run in progress: its window and the next page. Every page is
// committed with the cursor that resumes after it, so a cut-off or a crash re-reads at
// most one page (a requests window is one page).
//
// # Deletions
//
// A window read to its end is the complete list of its days. A run that is not a first
// sync marks deletions per day (stream.Pass with the scope site_id and call_date /
// request_date): its first batch starts the passes of the window's days, each page's
// batches record the keys of their days (at most 7 days per batch), and the window's
// last batch completes them, so a call deleted within the days re-read gets deleted_at
// (within the delete guard; a day whose every call vanished is held back by it). A
// window with a rejected record marks nothing: a record the API sent is not gone.
//
// # Decoding
//
// Records are decoded with encoding/json into DTOs of lenient fields
// (extractors/internal/lenient; callDTO, requestDTO): booleans
// also as "True"/"False"/"1"/"0", numbers also as strings, null and missing as NULL, the
// call date as dd/mm/yyyy hh:mm:ss in cabinet time or a unix time, a request's date as
// unix milliseconds or its dateStr. A field of a type that cannot be read (an object
// where text is due, "abc" for a number) makes the record a stream.Reject naming the
// field; the rest of the page loads. raw keeps each record as sent, unknown fields
// included, with the token scrubbed should the API ever echo it (plain, URL-escaped or
// JSON-escaped). Phones are kept as sent plus phone_digits and phone_e164
// (libphonenumber, region CRMSYNC_PHONE_REGION, RU by default).
package calltouch
