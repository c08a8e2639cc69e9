// Package simulator serves faithful local stand-ins for the Leeloo.ai v1/v2 and Text
// Request v3 read APIs, TWIN's IAM and chat APIs (reads and the client-attribute
// writes) and Calltouch's journals and lead-comment API, written from
// /work/shared/reference/leeloo-api.md, textrequest-api.md, twin-api.md and
// calltouch-api.md (never from the extractors, so a misreading on either side shows up
// as a failing test). Tests run it through httptest, `crmsync simulate` serves it, and
// `make demo` and the benchmarks pull data through it.
//
// # Data
//
// Records are derived on demand from (seed, index) with a counter-based hash, so the
// memory use does not grow with Options.Scale and the same seed always gives
// byte-identical responses. Base lists are generated already newest-first (index 0 is
// the newest), so a page of any list is arithmetic, not a sort. Mutate and the
// offset-drift fault write to small overlays: records they change are materialised,
// records they add or move go to the head of their list (see seq). Filtered queries
// that cannot be answered by binary search on the base ordering key are scanned once
// per data version and cached, so paging through them stays cheap.
//
// Mutate also deletes records between syncs (Mutation.Deleted*: Leeloo people,
// channels, orders and tags; Text Request contacts, payments, groups, tags and custom
// fields) and can restore the latest deletions (Mutation.Restored). A deleted record
// leaves every list and Truth; what refers to it is left as it was (a contact keeps a
// deleted group's id in groups[], a deleted person's channels stay, a deleted channel's
// messages and v1 account go with it), since the references do not say; fetching it by
// id still answers. See delete.go.
//
// Scale 1 has Leeloo: 200 people, 300 channels (people own one or two), ~1,950 chat
// messages (1–12 per channel), 100 orders, 8 tunnels, 8 users, 12 tags, 5 connections,
// 4 template categories; Text Request: 3 dashboards (4101, 4102, 4103; not scaled) with
// 150 contacts each (1–6 messages each, ~1,600 in all), 34 payments each, 6 groups, 8
// tags and 4 custom fields each. Scale N multiplies the people, channels, messages,
// orders, tunnels, contacts and payments by N. Users are 6+2N.
//
// # Assumptions where the references are silent ([INF] / [I])
//
// Leeloo:
//   - Auth: X-Leeloo-AuthToken, or the authToken query parameter. Missing: HTTP 400 with
//     {"status":0,"error":{"fields":{"authToken":"REQUIRED"},"code":"FORMAT_ERROR"}}.
//     Wrong: 401 {"status":0,"error":{"code":"UNAUTHORIZED"}}.
//   - Errors carry status:0 and an HTTP error status: bad limit/offset/filter values 400
//     FORMAT_ERROR with fields; unknown routes and ids 404 NOT_FOUND; non-GET 405.
//   - limit defaults to 20 (0 also means 20) and is clamped to Faults.LeelooPageCap
//     (default 100); meta.limit is the applied limit. meta.filteredCount = len(data),
//     meta.totalCount = all matching.
//   - Order: people, channels and v1 accounts by lastMessageTime desc; chat messages by
//     createdAt desc; everything else by createdAt desc (ids break no ties: keys are
//     unique).
//   - filter[last_message][from|to]: YYYY-MM-DD or ISO-8601 (zone optional, UTC
//     assumed), both inclusive; a date-only "to" means the end of that day. On /people
//     it is optional unless Faults.StrictPeopleFilter. filter[tags] is OR (v1: a comma
//     list; v2: repeated). filter[phone] compares digits only; filter[email] ignores case.
//   - Shapes proposed by the reference (channels, orders, tunnels, tunnel stats, users
//     email/role, tags, connections, person detail) are served as proposed. v1 included
//     orders carry an id; users are served with minute-precision timestamps
//     ("2026-05-18T03:00Z") as in the official example, and v1 included users with ms.
//   - Tags and connections accept limit/offset like other lists (they have ≤ 20 items,
//     so a client that does not page still gets them all).
//   - /communication-channels/{id}/chat-messages takes a channel (account) id only.
//   - Person updatedAt = lastMessageTime; channel updatedAt = lastMessageTime.
//
// Text Request:
//   - Auth: x-api-key (any header case); missing or wrong: 401
//     {"status":401,"message":...,"errorCode":"UNAUTHORIZED"}. Bad parameters: 400 with
//     errorCode INVALID_PARAMETER; an unknown dashboard id: 400 INVALID_DASHBOARD.
//   - page is 0-based (default 0), page_size defaults to 50 and is served up to
//     Faults.TextRequestPageCap (default 500); meta.page_size echoes the request, so a
//     capped page holds fewer items than meta.page_size says. Past the last page: 200
//     with items [] and the real total_items.
//   - 204: a contact's messages (unknown contact or none), the conversations list when
//     nothing matches, contact/group/payment by id when missing, custom fields when
//     empty. Lists of contacts, dashboards, groups, tags and payments never 204.
//   - Contacts are listed by most recent activity first (last_contact_date_utc, or
//     date_created_utc for contacts without messages); conversations in the same order.
//     A contact's messages are served oldest first (chronological).
//   - Time filters are inclusive (after = >=, before = <=). The *_utc and
//     contact_created_* filters are RFC 3339 (no zone = UTC; a date-only "before" means
//     the end of that day). last_message_sent_* and last_message_received_* are read as
//     local time: the wall clock is taken in the dashboard zone, UTC-05:00 without DST,
//     and any zone in the value is ignored.
//   - Booleans accept true/false/1/0 in any case; an omitted boolean is no filter.
//     tags and groups are comma lists matched any-of; custom_field_id_N/value_N match
//     exactly; display_name (third-party) is a case-insensitive substring.
//   - Conversations: archived hidden unless include_archived=true;
//     show_unresolved_only=true keeps only unresolved (trusting the name, §9.1); search
//     matches phone digits or display name (substring, any case).
//   - Payments default to sort_type=date, sort_direction=desc; ties by payment_id.
//   - Phones in paths are URL-decoded and compared by digits (a leading US 1 ignored).
//     Every 10th contact of dashboards 4102/4103 has the same number as one of 4101.
//   - Inbound messages have null response_by_username and delivery_status.
//   - GET /dashboards/{id}/messages (third-party evidence, §6) is served: every message
//     of the dashboard oldest first, start_date/end_date inclusive, 204 when none, and
//     an extra "phone_number" field naming the contact (the field name is ours).
//   - Custom fields, tags and groups are per dashboard; group ids are 40472+100·d+g,
//     payment ids 2510+3·j+d (new ones follow), dashboards 4101..4103.
//   - Timestamps are "2006-01-02T15:04:05.000Z" (Faults.OmitTimeZone drops the Z).
//   - The rate limit is a rolling window per key; 429 carries Retry-After in whole
//     seconds until the oldest counted request leaves the window.
//
// TWIN (twin-api.md; served under TwinIAMPath and TwinChatPath, since Leeloo has
// /api/v1 on the same address):
//   - Data is materialised at New: 3+N chats, 7 attributes (A2), 150·N clients with
//     1–3 sessions each (~300·N), 2–13 messages per session derived on demand. Client
//     values cover about half the attributes; phones come in eight formats (+7…, 8…,
//     "+7 (9xx) xxx-xx-xx", spaced, 7…, a Ukrainian +380, ten bare digits, and an
//     unreadable "тел. 12345"). Sessions of whatsapp and viber chats are named after the
//     client's phone, others after the client's name or @handle.
//   - Login: POST /auth/login {email, password, ttl?, companyId?} → 200 {token,
//     refreshToken} (also as cookies token and refresh_token). Wrong credentials: 401
//     {"error":"Invalid credentials."}; a companyId other than the user's: 403; missing
//     fields: 422 {"error","details"}. The token is an HS256 JWT with sub, companyId,
//     iat, exp, jti; ttl is in seconds, default one week, at most 30 days [INF], capped
//     by Options.TwinTokenTTL. Refresh: POST /auth/refresh {refreshToken, ttl?}; the
//     Authorization header is not required [INF]; each refresh token is good once and
//     for Options.TwinRefreshTTL (default 30 days [UNK]); a used, unknown or expired
//     one: 401. An access token stays valid until its exp after a refresh [INF].
//   - Chat API auth: Authorization: Bearer <token>. Missing or forged: 401
//     {"error":"Unauthorized."}; lapsed (exp, or Faults.TwinTokenRequests uses): 401
//     {"error":"Token is expired."}. Errors are {"error": ..., "details": ...}; unknown
//     ids 404 (e.g. "Client not found.") [INF]; bad parameters 400; bad bodies 422.
//   - Lists are {"count": total, "items": [...]}: limit defaults to 10 (0 = default)
//     and is clamped to Faults.TwinPageCap (default 100) [INF]; count stays the total;
//     past the end items is []. withoutCount=true serves count null. The same paging
//     applies to A2 and A6 [INF], so a client that does not page gets 10.
//   - /sessions: from/to inclusive, ISO-8601 with an offset (without one: UTC; a
//     date-only to: the end of that day); dateRangeField createdAt (default) or
//     updatedAt; sort started_at or name with +/- (default -started_at, newest first
//     [INF]; anything else 400); chatId, sessionId, keyword (session name substring or
//     the exact clientId). Other documented filters are accepted and ignored. Session
//     items carry createdAt and updatedAt [INF] (the filter names them; SessionInfo
//     does not list them), clientId is a string, clientExternalId is set for clients
//     started with one [INF]. updatedAt moves with a new message or a status/tag
//     change; never with an attribute edit.
//   - Messages (/sessions/{id}/messages, /clients/{id}/messages) are served oldest
//     first (sort=-createdAt reverses) [INF], from/to on createdAt. authorType is
//     client, operator or bot; answers is an array of strings and keyboard an object
//     {buttons} [INF].
//   - Attributes: A1 answers 200 {"id"} [INF: status]; names need not be unique
//     [UNK]; A5 overwrites (idempotent), value must be a JSON string of at most 1000
//     characters (else 422) [INF]; A7 of an unset value is 200 [INF]; A4 removes the
//     definition and every client's value of it; A6 lists only set values, in the
//     attributes' creation order [INF]. A client exists once a session names it.
//   - Faults apply as to the other APIs (latency, 5xx, truncation, rate limit per user
//     with Faults.TwinRateLimit, unknown fields, NULs in session names and message
//     bodies); Faults.TwinLostAnswerRate applies a write and answers 502; OffsetDrift starts a session of a new client before any /sessions page
//     after the first. Mutation.Twin changes sessions, values and attributes between
//     syncs; TwinTruth shows the result.
//
// Calltouch (calltouch-api.md and the seed; records are generated on first use and kept
// in memory: 180 days before Options.Now with 4–12 calls and 1–4 requests a day per
// scale unit, ids growing with time, ~250 callers per scale unit who call and fill in
// forms again):
//   - Auth: the journals take the token in clientApiId, the lead-service in the
//     Access-Token header with the cabinet in SiteId. A wrong or missing token: 401
//     {"message":"Access token не найден"} (the seed's body; the status is ours). Another
//     site id: 403, {"message":"Ошибка доступа"} on the journals and the seed's
//     {"meta":[],"data":{"message":"Ошибка доступа"}} on the lead-service. Journal errors
//     are 400 {"message": ...}; unknown routes 404.
//   - Dates are the cabinet's wall clock, Moscow (UTC+3). Calls serve date as
//     dd/mm/yyyy hh:mm:ss; requests serve date as unix ms and dateStr as
//     dd/mm/yyyy hh:mm:ss; comments on calls carry a date in the same form.
//   - Calls journal: dateFrom/dateTo dd/mm/yyyy, both days included, at most 92 days
//     apart (400 beyond: the "3 months" of third-party code). Without page and limit
//     the two must be the same day (400 otherwise) and the answer is a bare array; with
//     either, the envelope {page, pageTotal, pageSize, recordsTotal, records}: page is
//     1-based (default 1), limit defaults to 100 and is clamped to 1000
//     (Faults.CalltouchPageCap lowers it; pageSize shows the applied value), pageTotal
//     is ceil(recordsTotal/pageSize) (0 when empty), a page past the end has no
//     records. Calls are ordered by date, oldest first. callTags, comments and orders
//     are served only with withCallTags, withComments and withOrders = true.
//   - Requests journal: siteId in the query (400 when missing), dateFrom/dateTo
//     mm/dd/yyyy with the same 92-day rule, optional timeFrom/timeTo (hh:mm:ss, both
//     included) on each day's clock; page and limit are ignored: a bare array of the
//     whole window, oldest first. RequestTags only with withRequestTags=true.
//   - Types wander per record: about 15 % of records serve their booleans as
//     "True"/"False" and another ~15 % their numbers (ids, durations, date in ms) as
//     strings. Phones come in many formats (79161234567, +7 (916) 123-45-67,
//     8 916..., Belarusian and Ukrainian numbers, "" for an anonymous caller); text is
//     Russian. Truth holds the values, not their wire form.
//   - Lead comments: the whole request is validated first (1–100 leads, 1–20 rules
//     each, a non-blank addComment, the params object of the rule's type, callId /
//     requestId as a number or a string of digits, date as dd-mm-yyyy hh:mm:ss in
//     cabinet time, searchDepth 1–525600, *TypeToMatch one of nearest, nearestUniq,
//     nearestUniqLead, nearestTarget, nearestUniqTarget, tagsLogic and/or and required
//     with two tags or more); any violation answers 400 with the seed's validationError
//     body listing them all, and nothing is commented. Otherwise each lead's rules are
//     tried in order against the simulator's own calls and requests: by id, or by phone
//     (normalised to 11 digits: 8XXXXXXXXXX and 10-digit numbers become 7...) and, for
//     requestContact, then by e-mail (any case), within searchDepth minutes before or
//     after the date, the nearest winning; Uniq/Target in the type restrict to unique /
//     target leads; tags must be present (and: all, or: any). The first rule that finds
//     a lead wins: the comment is appended to that call's or request's comments (so
//     the journals show it) and recorded for CalltouchLeadComments; results come back
//     in request order with callInfo or requestInfo, commented and error ("Лид для
//     комментирования не найден" when no rule matched). Every request adds its
//     comments again: there is no duplicate protection.
//   - The rate limit (Faults.CalltouchRateLimit, the real API's 5 a second) is per
//     client IP over a rolling second across all Calltouch routes; 429 carries
//     Retry-After in whole seconds. Faults.CalltouchLostAnswerRate processes a
//     lead-comment request and then answers 502.
//   - Mutate adds calls and requests at the present, edits calls of the last 7 days
//     (tags, comments, deals, the target flag and manager) and the 20 newest requests,
//     and deletes calls of the last 7 days (CalltouchTruth.DeletedCalls lists them);
//     edits and deletions touch records that existed before the mutation.
//
// # Faults
//
// Faults are off by default and can be switched at any time with SetFaults. Content
// faults (NUL characters, duplicate and empty message ids, OmitTimeZone, unknown fields)
// are applied on the way out, so Truth shows exactly what is served at that moment
// (except unknown fields, which Truth's typed structs cannot hold). Injected 5xx
// answers and truncations are drawn from a deterministic sequence seeded by the seed.
//
// Stats counts requests per API, route and status, 429s, truncations, and the largest
// number of requests one key made within any rate window (even with the limit off), so
// tests can assert a client's pacing and its request count.
//
// Truth materialises everything and is meant for tests at scales up to about 10.
package simulator
