// Package leeloo reads the Leeloo.ai API (v2, and v1 for accounts) into the leeloo schema
// of the warehouse (migrations/00002_create_leeloo.sql). It follows the API reference
// (shared/reference/leeloo-api.md, beside the repository): shapes the reference marks as
// inferred are decoded leniently, every record keeps the object exactly as sent in raw,
// and Leeloo's "NOT_DEFINED" is NULL in typed columns.
//
// # Talking to Leeloo
//
// The token travels only in the X-Leeloo-AuthToken header (apiclient.Config.Auth), never as
// the authToken query parameter. A Leeloo error is either a non-2xx answer or a body with
// "status": 0, which Leeloo may send with HTTP 200; both fail the stream with an error
// naming the endpoint and the API's error code (ErrorCode reads it; the CLI passes it to
// apiclient.Config.ErrorCode). Lists are limit/offset (limit 50 asked, the server may cap):
// apiclient.OffsetPages pages by what came back and stops on offset >= totalCount or a
// short page, never on the limit alone. Lists that come back without meta (tags,
// connections) end on a short or empty page.
//
// Each list item is decoded on its own with encoding/json into a DTO of lenient fields
// (extractors/internal/lenient: a number sent as a string or a string as a number is
// accepted, null and missing fields are NULL); an item that is not an object, lacks its
// key or holds a value of an impossible type (an object for a name, "a lot" for a price)
// becomes a stream.Reject naming the field, and the rest of the page loads. A body cut
// short is retried (lenient.Body through GetDecode). Each record's raw column is the item
// exactly as received.
//
// # Streams and their checkpoints
//
// Every batch is one page (or one listing page with its details; v1 accounts: up to 16
// details of a page, with a cursor inside the page) and carries the cursor
// that is true once it is committed; the loader commits rows and cursor together, so a run
// killed at any moment resumes where it stopped. Cursors are versioned JSON ({"v":1,…}); a
// cursor that cannot be read is ignored with a warning (the stream reads from scratch).
//
//   - people (+ person_channels) and communication_channels: windows of
//     filter[last_message][from/to] (ISO timestamps), oldest window first. The first run,
//     a full refresh, and a sweep every FullSweepEvery (for edits that do not move
//     lastMessageTime: name, tags, email) start at StartDate; other runs start at the
//     previous run's end minus Lookback. Windows overlap by a day (the filter's
//     granularity and inclusiveness are undocumented) and adapt their span to hold at most
//     MaxWindowRows records. Cursor: windowCursor (done, sweep, and the unfinished pass's
//     window and offset).
//   - messages: one partition per channel (chatCursor: a watermark, and an unfinished
//     scan's offset); partition "" lists the channels with the same windows. The first
//     run reads every chat; later runs only chats whose lastMessageTime passed their
//     watermark, newest first, until a whole page is older than watermark minus Lookback.
//     Up to Concurrency chats are read at once, across listing pages (chatPool); the
//     listing cursor follows only once its page's chats are handed on.
//   - accounts (+ account_subscriptions): the v1 list, newest-first by key time
//     (lastMessageTime, or createdAt for a never-messaged account; the order is seen in
//     the examples, not documented). A full pass (first run, full refresh, a sweep every
//     FullSweepEvery, or the first run after a version 1 cursor) reads the list and every
//     detail. An incremental pass reads the detail (the only source of subscribeHistory,
//     gender, locale, contacted users, orders) only of accounts whose key time passed the
//     watermark (the newest key time the last pass saw), or lies in the band of Lookback
//     below it with a key time other than the one the cursor remembers (a message that
//     showed up late, an account new to us); other accounts get no row, since a row
//     without its detail would blank the detail columns and drop the subscriptions. It
//     stops after a page whose accounts are all older than the band, but reads to the
//     end once it has seen an item out of order, or when the list's total grew by more
//     than the accounts created after the watermark that it saw (new accounts sorted
//     elsewhere, e.g. nulls last). A subscription happens in the chat and moves
//     lastMessageTime; what leaves no trace there (name or tag edits, an order edited
//     without a system message, which changes the detail's included orders) waits for
//     the next full pass. Cursor: accountsCursor (v2).
//   - tunnels (+ leadgentools, traffic_sources): the whole list each run; a tunnel's
//     detail only when its list item differs (any byte; a fingerprint per tunnel in the
//     cursor) from the last pass, and every detail on a full pass (first run, full
//     refresh, sweep): edits of a tool or traffic source may leave the tunnel's list
//     item as it was (the reference does not say). Unchanged tunnels get no row (a row
//     alone would drop their tools). Cursor: tunnelsCursor (v2).
//   - orders, users, tags, connections: a full scan each run (scanCursor: an unfinished
//     scan's offset, or when the last one finished). Rows that disappear are kept.
//   - templates: categories and their templates, one batch.
//   - tunnel_stats: one snapshot per run, captured_at = the run's start; from
//     /tunnels/stats, or per tunnel when that endpoint fails.
//   - account_messages (off by default): the v1 chats into leeloo.messages, as messages.
//
// # What a scan can miss, and who catches it
//
// Lists are newest-first and read live by offset (§9.3). A record inserted at the front
// during a scan pushes the rest down: the next page repeats records (harmless upserts).
// A record removed ahead of the cursor pulls the rest up: apiclient.OffsetPages sees the
// total shrink and re-reads the overlap; so does a scan resumed by a later run, from the
// total its cursor kept. A person or channel whose lastMessageTime moves during the scan
// leaves the window being read; its new lastMessageTime lies after the pass's start, so a
// full pass reads a tail window past its end before it completes (it is not marked
// deleted), and an incremental run's successor reads it in its first window
// [done − Lookback, now]. An accounts pass that stops early sees a changed
// account either at the front (its key time passed the watermark, which is a time the
// server showed before the change) or, if the message is dated up to Lookback late, in
// the band. Two messages with one id in one chat keep one row (the key is
// (channel_id, id)); the duplicate is logged.
//
// # What a run costs
//
// A first sync costs a request per chat and per account detail (no bulk endpoint
// exists), plus the list pages; the windowed passes also spend one request on each
// empty window before the data begins. A run with nothing changed costs one request per
// windowed stream (people, channels, the messages listing: chats are read only when the
// listing shows a lastMessageTime past their watermark), the accounts list down to the
// band (apiclient.OffsetPages fetches one page more to know which page is the last),
// the tunnels list, and the full scans (orders, users, tags, connections, templates,
// tunnel stats). The tunnel_stats snapshot writes its rows every run by design.
package leeloo
