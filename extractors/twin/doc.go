// Package twin extracts TWIN (twin24.ai) chat data into the twin.* tables, from the
// IAM and chat APIs described in /work/shared/reference/twin-api.md.
//
// Authentication: Auth logs in with e-mail and password (POST {iam}/auth/login), keeps
// the JWT and its refresh token in memory only, refreshes the token at 80% of the
// lifetime its exp claim gives (POST {iam}/auth/refresh, the refresh token rotating),
// and logs in again when a refresh fails. A 401 from the chat API (the token lapsed
// early or was revoked) is handled transparently: the token is renewed and the request
// sent again. Tokens, the password and the refresh token never reach a log, an error,
// sync.* or raw. Login and refresh requests go to the IAM directly (not through the
// chat API's client and its budget): there is one per run and one per token lifetime.
//
// Streams (one cursor each, no partitions):
//   - sessions: GET /sessions?dateRangeField=updatedAt&from=W-lookback&sort=started_at,
//     where W is when the last complete pass began; every FullSweepEvery (and on the
//     first run) from StartDate instead, and that sweep marks sessions TWIN no longer
//     lists deleted. twin.clients follows twin.sessions through a trigger (migration
//     00006): first and last session, messenger, chat, external id and phone of each
//     client seen, whatever order the sessions arrive in across runs.
//   - messages: the same listing of changed sessions (its own cursor), then every
//     message of each listed session (GET /sessions/{id}/messages), Concurrency at a
//     time.
//   - client_attributes: the same listing; each client of a listed session is read
//     once per run (GET /clients/{id}/attributes) and its values replace the stored
//     ones as a whole (the client's key row in twin.clients is their parent). Every
//     FullSweepEvery the listing covers every session, hence every known client: an
//     operator's edit of a value moves no timestamp the API shows.
//   - attributes, chats: the whole list every run, as a pass that marks what is gone.
//
// Every list is {count, items} paged with limit/offset (TWIN's default limit is 10;
// PageSize is asked and a capped page is paged by what it holds); a resumed run
// continues at the offset its cursor stored. Records are decoded leniently: each field
// on its own with the types of extractors/internal/lenient (a field of an unexpected type
// is NULL, the record is whole in raw), a record without its id goes to sync.rejects.
//
// Phones: TWIN has no phone field. A session of a phone messenger (WhatsApp, Viber,
// SMS, voice) is named after the client's number [INF]; when that name reads as a
// phone number (libphonenumber, PhoneRegion for numbers without a country code) it is
// stored as the session's and the client's phone with phone_digits and phone_e164.
package twin
