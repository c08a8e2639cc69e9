-- TWIN (twin24.ai chat platform) warehouse tables, filled by extractors/twin.
-- Every entity table has its natural key, typed columns for every field the API reference
-- documents, raw (the object exactly as the API sent it), synced_at (set by the loader when
-- a row is inserted or changed) and deleted_at. Phones are kept as written plus a
-- digits-only copy and phone_e164. twin.clients is derived from twin.sessions by a trigger:
-- TWIN has no client list, and the first and last session of a client span syncs.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS twin;
COMMENT ON SCHEMA twin IS 'TWIN (twin24.ai) chat platform data, synced by crmsync from the IAM and chat APIs.';

CREATE TABLE twin.chats (
    id                 text PRIMARY KEY,
    bot_id             text,
    name               text,
    bot_name           text,
    session_ttl        integer,
    event_callback_url text,
    messengers         text[],
    created_at         timestamptz,
    updated_at         timestamptz,
    raw                jsonb NOT NULL,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
CREATE INDEX chats_deleted_at_idx ON twin.chats (deleted_at) WHERE deleted_at IS NOT NULL;
COMMENT ON TABLE twin.chats IS 'TWIN chats: a web widget or messenger channel bound to a bot (GET /chats), read completely every run.';
COMMENT ON COLUMN twin.chats.id IS 'Chat id.';
COMMENT ON COLUMN twin.chats.bot_id IS 'Id of the bot that answers in this chat.';
COMMENT ON COLUMN twin.chats.name IS 'Chat name.';
COMMENT ON COLUMN twin.chats.bot_name IS 'Name of the bot.';
COMMENT ON COLUMN twin.chats.session_ttl IS 'Lifetime of a session of this chat, in seconds.';
COMMENT ON COLUMN twin.chats.event_callback_url IS 'URL TWIN posts the chat''s events to, if any.';
COMMENT ON COLUMN twin.chats.messengers IS 'Messengers connected to the chat (as the API names them; objects kept as JSON text).';
COMMENT ON COLUMN twin.chats.created_at IS 'When the chat was created.';
COMMENT ON COLUMN twin.chats.updated_at IS 'When the chat was last changed.';
COMMENT ON COLUMN twin.chats.raw IS 'The chat object exactly as the API sent it.';
COMMENT ON COLUMN twin.chats.synced_at IS 'When crmsync last inserted or changed this row.';
COMMENT ON COLUMN twin.chats.deleted_at IS 'When a complete read of the chats no longer listed this chat; NULL while it exists. Rows are never removed.';

CREATE TABLE twin.attributes (
    id         text PRIMARY KEY,
    company_id bigint,
    name       text,
    raw        jsonb NOT NULL,
    synced_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX attributes_deleted_at_idx ON twin.attributes (deleted_at) WHERE deleted_at IS NOT NULL;
COMMENT ON TABLE twin.attributes IS 'TWIN client-attribute catalog: the custom fields operators see under "About client" (GET /clients/attributes), read completely every run.';
COMMENT ON COLUMN twin.attributes.id IS 'Attribute id.';
COMMENT ON COLUMN twin.attributes.company_id IS 'TWIN company (cabinet) the attribute belongs to.';
COMMENT ON COLUMN twin.attributes.name IS 'Attribute name as operators see it (not guaranteed unique).';
COMMENT ON COLUMN twin.attributes.raw IS 'The attribute object exactly as the API sent it.';
COMMENT ON COLUMN twin.attributes.synced_at IS 'When crmsync last inserted or changed this row.';
COMMENT ON COLUMN twin.attributes.deleted_at IS 'When a complete read of the catalog no longer listed this attribute (deleted in TWIN); NULL while it exists. Rows are never removed.';

CREATE TABLE twin.sessions (
    id                           text PRIMARY KEY,
    chat_id                      text,
    client_id                    text,
    client_external_id           text,
    name                         text,
    phone                        text,
    phone_digits                 text,
    phone_e164                   text,
    marked_as_spam               boolean,
    ttl                          integer,
    operator_id                  text,
    operator_name                text,
    operator_assigned_at         timestamptz,
    operators                    jsonb,
    channel                      text,
    messenger_type               text,
    bot_status                   text,
    status                       text,
    started_at                   timestamptz,
    client_online_at             timestamptz,
    client_offline_at            timestamptz,
    unread_client_message_count  integer,
    last_message_created_at      timestamptz,
    last_message                 jsonb,
    client_banned                boolean,
    referer                      text,
    tags                         text[],
    timer_first_answer           integer,
    timer_next_answers           integer,
    last_operator_message        jsonb,
    first_client_message_after_last_operator_message jsonb,
    created_at                   timestamptz,
    updated_at                   timestamptz,
    raw                          jsonb NOT NULL,
    synced_at                    timestamptz NOT NULL DEFAULT now(),
    deleted_at                   timestamptz
);
CREATE INDEX sessions_client_id_idx ON twin.sessions (client_id);
CREATE INDEX sessions_chat_id_idx ON twin.sessions (chat_id);
CREATE INDEX sessions_updated_at_idx ON twin.sessions (updated_at);
CREATE INDEX sessions_phone_e164_idx ON twin.sessions (phone_e164);
CREATE INDEX sessions_deleted_at_idx ON twin.sessions (deleted_at) WHERE deleted_at IS NOT NULL;
COMMENT ON TABLE twin.sessions IS 'TWIN chat sessions (GET /sessions): one conversation of a client in a chat. Read incrementally by updatedAt; a full sweep marks sessions TWIN no longer lists.';
COMMENT ON COLUMN twin.sessions.id IS 'Session id.';
COMMENT ON COLUMN twin.sessions.chat_id IS 'Chat the session belongs to (twin.chats.id).';
COMMENT ON COLUMN twin.sessions.client_id IS 'TWIN client of the session (twin.clients.id); the API''s clientId as text.';
COMMENT ON COLUMN twin.sessions.client_external_id IS 'Your own id of the client, when the chat integration started the session with one (clientExternalId).';
COMMENT ON COLUMN twin.sessions.name IS 'Session name as the operator panel shows it: the client''s name, handle or phone number.';
COMMENT ON COLUMN twin.sessions.phone IS 'The client''s phone number as written, when the session is of a phone messenger (WhatsApp, Viber, SMS, voice) and its name is the number; else NULL.';
COMMENT ON COLUMN twin.sessions.phone_digits IS 'phone, digits only (for joins).';
COMMENT ON COLUMN twin.sessions.phone_e164 IS 'phone in E.164 form (libphonenumber; numbers without a country code read in CRMSYNC_PHONE_REGION, default RU); NULL when it cannot be read.';
COMMENT ON COLUMN twin.sessions.marked_as_spam IS 'Whether an operator marked the session as spam.';
COMMENT ON COLUMN twin.sessions.ttl IS 'Session lifetime in seconds.';
COMMENT ON COLUMN twin.sessions.operator_id IS 'Operator assigned to the session.';
COMMENT ON COLUMN twin.sessions.operator_name IS 'Name of the assigned operator.';
COMMENT ON COLUMN twin.sessions.operator_assigned_at IS 'When the operator was assigned.';
COMMENT ON COLUMN twin.sessions.operators IS 'Every operator of the session, as the API sent the list.';
COMMENT ON COLUMN twin.sessions.channel IS 'Channel kind of the session.';
COMMENT ON COLUMN twin.sessions.messenger_type IS 'Messenger the client wrote from (telegram, whatsapp, vk, viber, widget, ...).';
COMMENT ON COLUMN twin.sessions.bot_status IS 'State of the bot in the session.';
COMMENT ON COLUMN twin.sessions.status IS 'Session status (open, closed, ...).';
COMMENT ON COLUMN twin.sessions.started_at IS 'When the session started.';
COMMENT ON COLUMN twin.sessions.client_online_at IS 'When the client was last seen coming online.';
COMMENT ON COLUMN twin.sessions.client_offline_at IS 'When the client went offline.';
COMMENT ON COLUMN twin.sessions.unread_client_message_count IS 'Client messages no operator has read.';
COMMENT ON COLUMN twin.sessions.last_message_created_at IS 'Time of the session''s last message.';
COMMENT ON COLUMN twin.sessions.last_message IS 'The session''s last message, as the API embedded it.';
COMMENT ON COLUMN twin.sessions.client_banned IS 'Whether the client is banned.';
COMMENT ON COLUMN twin.sessions.referer IS 'Page the client came from (web widget).';
COMMENT ON COLUMN twin.sessions.tags IS 'Tags of the session.';
COMMENT ON COLUMN twin.sessions.timer_first_answer IS 'First-answer timer of the session (as the API reports it).';
COMMENT ON COLUMN twin.sessions.timer_next_answers IS 'Next-answers timer of the session (as the API reports it).';
COMMENT ON COLUMN twin.sessions.last_operator_message IS 'The last operator message, as the API embedded it.';
COMMENT ON COLUMN twin.sessions.first_client_message_after_last_operator_message IS 'The first client message after the last operator message (waiting for an answer), as the API embedded it.';
COMMENT ON COLUMN twin.sessions.created_at IS 'When the session was created (dateRangeField=createdAt).';
COMMENT ON COLUMN twin.sessions.updated_at IS 'When the session last changed (dateRangeField=updatedAt); the incremental cursor.';
COMMENT ON COLUMN twin.sessions.raw IS 'The session object exactly as the API sent it.';
COMMENT ON COLUMN twin.sessions.synced_at IS 'When crmsync last inserted or changed this row.';
COMMENT ON COLUMN twin.sessions.deleted_at IS 'When a full sweep of the sessions no longer listed this session; NULL while it exists. Rows are never removed.';

CREATE TABLE twin.messages (
    id          text PRIMARY KEY,
    session_id  text,
    author_id   text,
    author_type text,
    author_name text,
    type        text,
    body        text,
    answers     jsonb,
    keyboard    jsonb,
    read_at     timestamptz,
    created_at  timestamptz,
    updated_at  timestamptz,
    attachments jsonb,
    reply_to    text,
    raw         jsonb NOT NULL,
    synced_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE INDEX messages_session_id_idx ON twin.messages (session_id, created_at);
COMMENT ON TABLE twin.messages IS 'TWIN chat messages (GET /sessions/{id}/messages), read for every session that changed since the last run. Deletions at the source are not detected (deleted_at stays NULL).';
COMMENT ON COLUMN twin.messages.id IS 'Message id.';
COMMENT ON COLUMN twin.messages.session_id IS 'Session of the message (twin.sessions.id).';
COMMENT ON COLUMN twin.messages.author_id IS 'Id of the author (the client, an operator or the bot).';
COMMENT ON COLUMN twin.messages.author_type IS 'Kind of author (client, operator, bot, ...).';
COMMENT ON COLUMN twin.messages.author_name IS 'Name of the author.';
COMMENT ON COLUMN twin.messages.type IS 'Message type (text, file, ...).';
COMMENT ON COLUMN twin.messages.body IS 'Message text.';
COMMENT ON COLUMN twin.messages.answers IS 'Answer options a bot message offered, as the API sent them.';
COMMENT ON COLUMN twin.messages.keyboard IS 'Keyboard of a bot message, as the API sent it.';
COMMENT ON COLUMN twin.messages.read_at IS 'When the message was read.';
COMMENT ON COLUMN twin.messages.created_at IS 'When the message was sent.';
COMMENT ON COLUMN twin.messages.updated_at IS 'When the message last changed.';
COMMENT ON COLUMN twin.messages.attachments IS 'Attached files, as the API sent them.';
COMMENT ON COLUMN twin.messages.reply_to IS 'The message this one replies to, if any (id, or the value as sent).';
COMMENT ON COLUMN twin.messages.raw IS 'The message object exactly as the API sent it.';
COMMENT ON COLUMN twin.messages.synced_at IS 'When crmsync last inserted or changed this row.';
COMMENT ON COLUMN twin.messages.deleted_at IS 'Always NULL: messages are read per changed session, never as a complete list, so a message deleted at the source is not noticed.';

CREATE TABLE twin.clients (
    id                text PRIMARY KEY,
    external_id       text,
    first_session_id  text,
    first_session_at  timestamptz,
    last_session_id   text,
    last_session_at   timestamptz,
    messenger_type    text,
    chat_id           text,
    phone             text,
    phone_digits      text,
    phone_e164        text,
    raw               jsonb,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);
CREATE INDEX clients_external_id_idx ON twin.clients (external_id);
CREATE INDEX clients_phone_e164_idx ON twin.clients (phone_e164);
CREATE INDEX clients_phone_digits_idx ON twin.clients (phone_digits);
COMMENT ON TABLE twin.clients IS 'TWIN clients: every client seen in a session, kept up to date from twin.sessions by a trigger (TWIN has no client list). Parent of twin.client_attributes.';
COMMENT ON COLUMN twin.clients.id IS 'Client id (the sessions'' clientId).';
COMMENT ON COLUMN twin.clients.external_id IS 'Your own id of the client (clientExternalId) from its latest session that had one.';
COMMENT ON COLUMN twin.clients.first_session_id IS 'The client''s earliest session (by started_at).';
COMMENT ON COLUMN twin.clients.first_session_at IS 'When the client''s earliest session started.';
COMMENT ON COLUMN twin.clients.last_session_id IS 'The client''s latest session (by started_at).';
COMMENT ON COLUMN twin.clients.last_session_at IS 'When the client''s latest session started.';
COMMENT ON COLUMN twin.clients.messenger_type IS 'Messenger of the latest session.';
COMMENT ON COLUMN twin.clients.chat_id IS 'Chat of the latest session.';
COMMENT ON COLUMN twin.clients.phone IS 'The client''s phone as written, from its latest session that showed one.';
COMMENT ON COLUMN twin.clients.phone_digits IS 'phone, digits only (for joins).';
COMMENT ON COLUMN twin.clients.phone_e164 IS 'phone in E.164 form (region RU unless CRMSYNC_PHONE_REGION says otherwise); NULL when unknown or unreadable. Joins people across platforms.';
COMMENT ON COLUMN twin.clients.raw IS 'Always NULL: TWIN serves no client object; the row is derived from sessions (see twin.sessions.raw).';
COMMENT ON COLUMN twin.clients.synced_at IS 'When this row was last inserted or changed.';
COMMENT ON COLUMN twin.clients.deleted_at IS 'Always NULL: clients are derived from sessions, never read as a list, so a client deleted in TWIN is not noticed.';

CREATE TABLE twin.client_attributes (
    client_id    text NOT NULL,
    attribute_id text NOT NULL,
    company_id   bigint,
    name         text,
    value        text,
    raw          jsonb NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,
    PRIMARY KEY (client_id, attribute_id)
);
CREATE INDEX client_attributes_attribute_id_idx ON twin.client_attributes (attribute_id);
COMMENT ON TABLE twin.client_attributes IS 'TWIN client attribute values (GET /clients/{id}/attributes): one row per client and attribute with a value. A client''s values are replaced as a whole whenever it is read (a value cleared in TWIN disappears), for clients whose sessions changed and, on a periodic sweep, for every known client.';
COMMENT ON COLUMN twin.client_attributes.client_id IS 'Client (twin.clients.id).';
COMMENT ON COLUMN twin.client_attributes.attribute_id IS 'Attribute (twin.attributes.id).';
COMMENT ON COLUMN twin.client_attributes.company_id IS 'TWIN company the value belongs to.';
COMMENT ON COLUMN twin.client_attributes.name IS 'Attribute name when the value was read.';
COMMENT ON COLUMN twin.client_attributes.value IS 'The value (TWIN stores strings; type it in SQL views).';
COMMENT ON COLUMN twin.client_attributes.raw IS 'The value object exactly as the API sent it.';
COMMENT ON COLUMN twin.client_attributes.synced_at IS 'When crmsync last inserted or changed this row.';
COMMENT ON COLUMN twin.client_attributes.deleted_at IS 'Always NULL: a value removed in TWIN is removed here when its client is read again (values are replaced per client).';

-- +goose StatementBegin
CREATE FUNCTION twin.sessions_to_clients() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.client_id IS NULL OR NEW.client_id = '' THEN
        RETURN NULL;
    END IF;
    INSERT INTO twin.clients AS c (id, external_id, first_session_id, first_session_at, last_session_id, last_session_at,
                                   messenger_type, chat_id, phone, phone_digits, phone_e164)
    VALUES (NEW.client_id, NEW.client_external_id, NEW.id, NEW.started_at, NEW.id, NEW.started_at,
            NEW.messenger_type, NEW.chat_id, NEW.phone, NEW.phone_digits, NEW.phone_e164)
    ON CONFLICT (id) DO UPDATE SET
        first_session_id = CASE WHEN c.first_session_id IS NULL OR c.first_session_id = excluded.first_session_id
                                  OR (excluded.first_session_at, excluded.first_session_id) < (c.first_session_at, c.first_session_id)
                                THEN excluded.first_session_id ELSE c.first_session_id END,
        first_session_at = CASE WHEN c.first_session_id IS NULL OR c.first_session_id = excluded.first_session_id
                                  OR (excluded.first_session_at, excluded.first_session_id) < (c.first_session_at, c.first_session_id)
                                THEN excluded.first_session_at ELSE c.first_session_at END,
        last_session_id  = CASE WHEN c.last_session_id IS NULL OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id)
                                THEN excluded.last_session_id ELSE c.last_session_id END,
        last_session_at  = CASE WHEN c.last_session_id IS NULL OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id)
                                THEN excluded.last_session_at ELSE c.last_session_at END,
        messenger_type   = CASE WHEN c.last_session_id IS NULL OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id)
                                THEN excluded.messenger_type ELSE c.messenger_type END,
        chat_id          = CASE WHEN c.last_session_id IS NULL OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id)
                                THEN excluded.chat_id ELSE c.chat_id END,
        external_id      = CASE WHEN excluded.external_id IS NOT NULL AND (c.external_id IS NULL OR c.last_session_id IS NULL
                                  OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id))
                                THEN excluded.external_id ELSE c.external_id END,
        phone            = CASE WHEN excluded.phone IS NOT NULL AND (c.phone IS NULL OR c.last_session_id IS NULL
                                  OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id))
                                THEN excluded.phone ELSE c.phone END,
        phone_digits     = CASE WHEN excluded.phone IS NOT NULL AND (c.phone IS NULL OR c.last_session_id IS NULL
                                  OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id))
                                THEN excluded.phone_digits ELSE c.phone_digits END,
        phone_e164       = CASE WHEN excluded.phone IS NOT NULL AND (c.phone IS NULL OR c.last_session_id IS NULL
                                  OR c.last_session_id = excluded.last_session_id
                                  OR (excluded.last_session_at, excluded.last_session_id) >= (c.last_session_at, c.last_session_id))
                                THEN excluded.phone_e164 ELSE c.phone_e164 END,
        synced_at        = now();
    RETURN NULL;
END
$$;
-- +goose StatementEnd
COMMENT ON FUNCTION twin.sessions_to_clients() IS 'Keeps twin.clients in step with twin.sessions: first and last session by started_at, the latest session''s messenger, chat, external id and phone.';
CREATE TRIGGER sessions_to_clients AFTER INSERT OR UPDATE ON twin.sessions
    FOR EACH ROW EXECUTE FUNCTION twin.sessions_to_clients();

-- +goose Down
DROP SCHEMA twin CASCADE;
