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
// Each list item is decoded on its own into a DTO of flexible fields (a number sent as a
// string or a string as a number is accepted, null and missing fields are NULL); an item
// that is not an object, lacks its key or holds a value of an impossible type (an object
// for a name, "a lot" for a price) becomes a stream.Reject naming the field, and the rest
// of the page loads.
//
// # Streams and their checkpoints
//
// Every batch is one page (or one listing page with its details) and carries the cursor
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
//   - orders, users, tags, connections, tunnels (+ leadgentools, traffic_sources),
//     accounts (+ account_subscriptions): a full scan each run (scanCursor: an unfinished
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
// total shrink and re-reads the overlap. A person or channel whose lastMessageTime moves
// during the scan leaves the window being read and may be missed by this pass; its new
// lastMessageTime lies after the pass's start, so the next run's first window
// [done − Lookback, now] reads it. Two messages with one id in one chat keep one row (the
// key is (channel_id, id)); the duplicate is logged.
package leeloo
