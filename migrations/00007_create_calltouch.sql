-- Calltouch (call tracking) warehouse tables, filled by extractors/calltouch from the calls
-- journal and the requests (leads) journal. Every entity table has its natural key, typed
-- columns for every field the API reference lists, the nested lists as arrays where
-- analysts filter on them (and whole in raw), raw (the object exactly as the API sent it,
-- the token never in it), synced_at (set by the loader when a row is inserted or changed),
-- _row_hash (the loader's) and deleted_at. Phones are kept as the API wrote them plus a
-- digits-only copy and phone_e164. Journal dates are the cabinet's clock (Moscow time);
-- timestamps here are absolute.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS calltouch;
COMMENT ON SCHEMA calltouch IS 'Calltouch (call tracking and lead attribution) data, synced by crmsync from the calls and requests journals.';

CREATE TABLE calltouch.calls (
    site_id           bigint NOT NULL,
    call_id           bigint NOT NULL,
    call_date         date,
    called_at         timestamptz,
    duration          integer,
    waiting_connect   integer,
    caller_number     text,
    phone_digits      text,
    phone_e164        text,
    tracking_number   text,
    redirect_number   text,
    successful        boolean,
    unique_call       boolean,
    target_call       boolean,
    uniq_target_call  boolean,
    callback_call     boolean,
    manager           text,
    city              text,
    source            text,
    medium            text,
    keyword           text,
    url               text,
    call_url          text,
    ref               text,
    hostname          text,
    utm_source        text,
    utm_medium        text,
    utm_campaign      text,
    utm_content       text,
    utm_term          text,
    session_id        bigint,
    call_phase        text,
    attribution       integer,
    ct_caller_id      text,
    client_id         text,
    ya_client_id      text,
    ct_client_id      text,
    ct_global_id      text,
    sip_call_id       text,
    call_reference_id text,
    sub_pool_name     text,
    status_details    text,
    tags              text[],
    comments          text[],
    order_numbers     text[],
    raw               jsonb NOT NULL,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    _row_hash         bigint,
    deleted_at        timestamptz,
    PRIMARY KEY (site_id, call_id)
);
CREATE INDEX calls_called_at_idx ON calltouch.calls (called_at);
CREATE INDEX calls_call_date_idx ON calltouch.calls (site_id, call_date);
CREATE INDEX calls_phone_e164_idx ON calltouch.calls (phone_e164);
CREATE INDEX calls_phone_digits_idx ON calltouch.calls (phone_digits);
CREATE INDEX calls_deleted_at_idx ON calltouch.calls (deleted_at) WHERE deleted_at IS NOT NULL;
COMMENT ON TABLE calltouch.calls IS 'Calltouch calls journal (GET /calls-service/RestAPI/{siteId}/calls-diary/calls), one row per call; re-read for a lookback of days, so late tags, comments and deals arrive.';
COMMENT ON COLUMN calltouch.calls.site_id IS 'Calltouch cabinet (site) id the call belongs to (CALLTOUCH_SITE_ID).';
COMMENT ON COLUMN calltouch.calls.call_id IS 'Calltouch call id (callId).';
COMMENT ON COLUMN calltouch.calls.call_date IS 'Day of the call on the cabinet''s clock (Moscow time): the journal''s dateFrom/dateTo day.';
COMMENT ON COLUMN calltouch.calls.called_at IS 'When the call started (date, read as Moscow time).';
COMMENT ON COLUMN calltouch.calls.duration IS 'Call duration in seconds.';
COMMENT ON COLUMN calltouch.calls.waiting_connect IS 'Seconds the caller waited to be connected.';
COMMENT ON COLUMN calltouch.calls.caller_number IS 'Caller''s phone number as the API returned it (callerNumber); NULL for an anonymous caller.';
COMMENT ON COLUMN calltouch.calls.phone_digits IS 'Caller''s phone number, digits only (for joins).';
COMMENT ON COLUMN calltouch.calls.phone_e164 IS 'Caller''s phone number in E.164 (libphonenumber; region CRMSYNC_PHONE_REGION, RU by default, for numbers without a country code); NULL when unreadable. Joins people across platforms.';
COMMENT ON COLUMN calltouch.calls.tracking_number IS 'Tracking number the caller dialled (phoneNumber): it identifies the advertising source.';
COMMENT ON COLUMN calltouch.calls.redirect_number IS 'Number the call was forwarded to (redirectNumber).';
COMMENT ON COLUMN calltouch.calls.successful IS 'The call was answered (successful).';
COMMENT ON COLUMN calltouch.calls.unique_call IS 'First call from this caller (uniqueCall).';
COMMENT ON COLUMN calltouch.calls.target_call IS 'The call met the cabinet''s target-call conditions (targetCall); managers may change it later.';
COMMENT ON COLUMN calltouch.calls.uniq_target_call IS 'Unique and target (uniqTargetCall).';
COMMENT ON COLUMN calltouch.calls.callback_call IS 'The call came from a callback widget (callbackCall).';
COMMENT ON COLUMN calltouch.calls.manager IS 'Manager who took the call.';
COMMENT ON COLUMN calltouch.calls.city IS 'Caller''s city as Calltouch determined it.';
COMMENT ON COLUMN calltouch.calls.source IS 'Traffic source of the visit behind the call (e.g. yandex, google, (direct)).';
COMMENT ON COLUMN calltouch.calls.medium IS 'Traffic medium (e.g. cpc, organic, (none)).';
COMMENT ON COLUMN calltouch.calls.keyword IS 'Search keyword of the visit.';
COMMENT ON COLUMN calltouch.calls.url IS 'Landing page of the visit (url).';
COMMENT ON COLUMN calltouch.calls.call_url IS 'Page the call was made from (callUrl).';
COMMENT ON COLUMN calltouch.calls.ref IS 'Referrer of the visit.';
COMMENT ON COLUMN calltouch.calls.hostname IS 'Site host name of the visit.';
COMMENT ON COLUMN calltouch.calls.utm_source IS 'utm_source of the visit.';
COMMENT ON COLUMN calltouch.calls.utm_medium IS 'utm_medium of the visit.';
COMMENT ON COLUMN calltouch.calls.utm_campaign IS 'utm_campaign of the visit.';
COMMENT ON COLUMN calltouch.calls.utm_content IS 'utm_content of the visit.';
COMMENT ON COLUMN calltouch.calls.utm_term IS 'utm_term of the visit.';
COMMENT ON COLUMN calltouch.calls.session_id IS 'Calltouch session (visit) id.';
COMMENT ON COLUMN calltouch.calls.call_phase IS 'Phase of the call when read (callphase, e.g. calldisconnected).';
COMMENT ON COLUMN calltouch.calls.attribution IS 'Attribution model the source fields follow (attribution).';
COMMENT ON COLUMN calltouch.calls.ct_caller_id IS 'Calltouch caller id (ctCallerId).';
COMMENT ON COLUMN calltouch.calls.client_id IS 'Google Analytics client id (clientId).';
COMMENT ON COLUMN calltouch.calls.ya_client_id IS 'Yandex Metrica client id (yaClientId).';
COMMENT ON COLUMN calltouch.calls.ct_client_id IS 'Calltouch visitor id (ctClientId).';
COMMENT ON COLUMN calltouch.calls.ct_global_id IS 'Calltouch cross-site visitor id (ctGlobalId).';
COMMENT ON COLUMN calltouch.calls.sip_call_id IS 'Call id in the PBX (sipCallId).';
COMMENT ON COLUMN calltouch.calls.call_reference_id IS 'Id given by the call-import API (callReferenceId).';
COMMENT ON COLUMN calltouch.calls.sub_pool_name IS 'Tracking-number pool of the call (subPoolName).';
COMMENT ON COLUMN calltouch.calls.status_details IS 'Status of the call in words (statusDetails).';
COMMENT ON COLUMN calltouch.calls.tags IS 'Names of the call''s tags (callTags[].names, flattened); the categories are in raw.';
COMMENT ON COLUMN calltouch.calls.comments IS 'Texts of the call''s comments, oldest first (comments[].comment; lead comments sent by crmsync push included); authors and dates are in raw.';
COMMENT ON COLUMN calltouch.calls.order_numbers IS 'Numbers of the deals linked to the call (orders[].orderNumber); amounts and dates are in raw.';
COMMENT ON COLUMN calltouch.calls.raw IS 'The call object exactly as the API sent it (with callTags, comments and orders).';
COMMENT ON COLUMN calltouch.calls.synced_at IS 'When crmsync last inserted or changed this row.';
COMMENT ON COLUMN calltouch.calls._row_hash IS 'crmsync''s hash of the row as last written; lets unchanged rows be skipped without sending them. Clear it (set it to NULL) when editing a row by hand.';
COMMENT ON COLUMN calltouch.calls.deleted_at IS 'When crmsync found the call gone: a complete re-read of its day (within the lookback, or a full sync) did not list it. NULL while the call is in Calltouch; cleared when it comes back. Rows are never removed: filter on deleted_at IS NULL for live calls.';

CREATE TABLE calltouch.requests (
    site_id             bigint NOT NULL,
    request_id          bigint NOT NULL,
    request_number      text,
    request_date        date,
    created_at          timestamptz,
    subject             text,
    unique_request      boolean,
    target_request      boolean,
    uniq_target_request boolean,
    manager             text,
    client_id           bigint,
    client_name         text,
    phone               text,
    phone_digits        text,
    phone_e164          text,
    phones              text[],
    phones_e164         text[],
    email               text,
    emails              text[],
    session_id          bigint,
    source              text,
    medium              text,
    keywords            text,
    city                text,
    ip                  text,
    ref                 text,
    url                 text,
    utm_source          text,
    utm_medium          text,
    utm_campaign        text,
    utm_content         text,
    utm_term            text,
    gua_client_id       text,
    ya_client_id        text,
    attribution         integer,
    ct_client_id        text,
    ct_global_id        text,
    tags                text[],
    comments            text[],
    raw                 jsonb NOT NULL,
    synced_at           timestamptz NOT NULL DEFAULT now(),
    _row_hash           bigint,
    deleted_at          timestamptz,
    PRIMARY KEY (site_id, request_id)
);
CREATE INDEX requests_created_at_idx ON calltouch.requests (created_at);
CREATE INDEX requests_request_date_idx ON calltouch.requests (site_id, request_date);
CREATE INDEX requests_phone_e164_idx ON calltouch.requests (phone_e164);
CREATE INDEX requests_phone_digits_idx ON calltouch.requests (phone_digits);
CREATE INDEX requests_phones_e164_idx ON calltouch.requests USING gin (phones_e164);
CREATE INDEX requests_emails_idx ON calltouch.requests USING gin (emails);
CREATE INDEX requests_deleted_at_idx ON calltouch.requests (deleted_at) WHERE deleted_at IS NOT NULL;
COMMENT ON TABLE calltouch.requests IS 'Calltouch requests journal (GET /calls-service/RestAPI/requests): leads from site forms, callback widgets, chats and other requests, one row per request.';
COMMENT ON COLUMN calltouch.requests.site_id IS 'Calltouch cabinet (site) id the request belongs to (CALLTOUCH_SITE_ID).';
COMMENT ON COLUMN calltouch.requests.request_id IS 'Calltouch request id (requestId).';
COMMENT ON COLUMN calltouch.requests.request_number IS 'The request''s id as the site form sent it (requestNumber): joins the site''s own form records.';
COMMENT ON COLUMN calltouch.requests.request_date IS 'Day of the request on the cabinet''s clock (Moscow time): the journal''s dateFrom/dateTo day.';
COMMENT ON COLUMN calltouch.requests.created_at IS 'When the request was made (date, unix milliseconds; dateStr otherwise).';
COMMENT ON COLUMN calltouch.requests.subject IS 'Subject of the request: the form or widget name.';
COMMENT ON COLUMN calltouch.requests.unique_request IS 'First request from this client (uniqueRequest).';
COMMENT ON COLUMN calltouch.requests.target_request IS 'The request met the cabinet''s target conditions (targetRequest).';
COMMENT ON COLUMN calltouch.requests.uniq_target_request IS 'Unique and target (uniqTargetRequest).';
COMMENT ON COLUMN calltouch.requests.manager IS 'Manager of the request.';
COMMENT ON COLUMN calltouch.requests.client_id IS 'Calltouch client id (client.clientId).';
COMMENT ON COLUMN calltouch.requests.client_name IS 'Client''s name as entered (client.fio).';
COMMENT ON COLUMN calltouch.requests.phone IS 'Client''s first phone as the API returned it (client.phones[0].phoneNumber).';
COMMENT ON COLUMN calltouch.requests.phone_digits IS 'Client''s first phone, digits only (for joins).';
COMMENT ON COLUMN calltouch.requests.phone_e164 IS 'Client''s first phone in E.164 (libphonenumber; region CRMSYNC_PHONE_REGION, RU by default); NULL when unreadable. Joins people across platforms.';
COMMENT ON COLUMN calltouch.requests.phones IS 'Every phone of the client as returned (client.phones[].phoneNumber); phone types are in raw.';
COMMENT ON COLUMN calltouch.requests.phones_e164 IS 'Every readable phone of the client in E.164, in the order of phones.';
COMMENT ON COLUMN calltouch.requests.email IS 'Client''s first e-mail (client.contacts with contactType email).';
COMMENT ON COLUMN calltouch.requests.emails IS 'Every e-mail of the client (client.contacts with contactType email).';
COMMENT ON COLUMN calltouch.requests.session_id IS 'Calltouch session (visit) id (session.sessionId).';
COMMENT ON COLUMN calltouch.requests.source IS 'Traffic source of the visit (session.source).';
COMMENT ON COLUMN calltouch.requests.medium IS 'Traffic medium of the visit (session.medium).';
COMMENT ON COLUMN calltouch.requests.keywords IS 'Search keywords of the visit (session.keywords).';
COMMENT ON COLUMN calltouch.requests.city IS 'Client''s city as Calltouch determined it (session.city).';
COMMENT ON COLUMN calltouch.requests.ip IS 'Visitor IP address (session.ip).';
COMMENT ON COLUMN calltouch.requests.ref IS 'Referrer of the visit (session.ref).';
COMMENT ON COLUMN calltouch.requests.url IS 'Page of the visit (session.url).';
COMMENT ON COLUMN calltouch.requests.utm_source IS 'utm_source of the visit.';
COMMENT ON COLUMN calltouch.requests.utm_medium IS 'utm_medium of the visit.';
COMMENT ON COLUMN calltouch.requests.utm_campaign IS 'utm_campaign of the visit.';
COMMENT ON COLUMN calltouch.requests.utm_content IS 'utm_content of the visit.';
COMMENT ON COLUMN calltouch.requests.utm_term IS 'utm_term of the visit.';
COMMENT ON COLUMN calltouch.requests.gua_client_id IS 'Google Analytics client id (session.guaClientId).';
COMMENT ON COLUMN calltouch.requests.ya_client_id IS 'Yandex Metrica client id (session.yaClientId).';
COMMENT ON COLUMN calltouch.requests.attribution IS 'Attribution model the source fields follow (session.attribution).';
COMMENT ON COLUMN calltouch.requests.ct_client_id IS 'Calltouch visitor id (ctClientId).';
COMMENT ON COLUMN calltouch.requests.ct_global_id IS 'Calltouch cross-site visitor id (ctGlobalId).';
COMMENT ON COLUMN calltouch.requests.tags IS 'Names of the request''s tags (RequestTags[].names, flattened).';
COMMENT ON COLUMN calltouch.requests.comments IS 'Texts of the request''s comments, oldest first (comments[].comment; lead comments sent by crmsync push included); authors are in raw.';
COMMENT ON COLUMN calltouch.requests.raw IS 'The request object exactly as the API sent it (with client, session, comments and RequestTags).';
COMMENT ON COLUMN calltouch.requests.synced_at IS 'When crmsync last inserted or changed this row.';
COMMENT ON COLUMN calltouch.requests._row_hash IS 'crmsync''s hash of the row as last written; lets unchanged rows be skipped without sending them. Clear it (set it to NULL) when editing a row by hand.';
COMMENT ON COLUMN calltouch.requests.deleted_at IS 'When crmsync found the request gone: a complete re-read of its day (within the lookback, or a full sync) did not list it. NULL while the request is in Calltouch; cleared when it comes back. Rows are never removed.';

-- +goose Down
DROP SCHEMA calltouch CASCADE;
