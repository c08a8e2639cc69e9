-- +goose Up
-- The leeloo schema mirrors the Leeloo.ai API (v1 accounts, v2 everything else). Every
-- entity table keeps typed columns for the documented fields, the object exactly as the API
-- sent it in raw, and synced_at (set when the row was inserted or last changed). Leeloo's
-- "NOT_DEFINED" sentinel is NULL in typed columns and stays in raw.
CREATE SCHEMA leeloo;
COMMENT ON SCHEMA leeloo IS 'Data copied from Leeloo.ai (chatbot funnels): people, their messenger channels, chat messages, orders, tunnels and their statistics.';

CREATE TABLE leeloo.people (
    id                text        PRIMARY KEY,
    name              text,
    phone             text,
    phone_digits      text,
    email             text,
    tags              text[],
    gender            text,
    locale            text,
    custom_fields     jsonb,
    last_message_time timestamptz,
    created_at        timestamptz,
    updated_at        timestamptz,
    raw               jsonb       NOT NULL,
    synced_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX people_last_message_time_idx ON leeloo.people (last_message_time);
CREATE INDEX people_created_at_idx ON leeloo.people (created_at);
CREATE INDEX people_phone_digits_idx ON leeloo.people (phone_digits);
CREATE INDEX people_email_idx ON leeloo.people (lower(email));
COMMENT ON TABLE leeloo.people IS 'People (CRM contacts) in Leeloo; a person groups one or more messenger channels (see person_channels).';
COMMENT ON COLUMN leeloo.people.id IS 'Leeloo person id (24-hex ObjectId).';
COMMENT ON COLUMN leeloo.people.name IS 'Display name of the person.';
COMMENT ON COLUMN leeloo.people.phone IS 'Phone number exactly as Leeloo returned it; empty when Leeloo says NOT_DEFINED.';
COMMENT ON COLUMN leeloo.people.phone_digits IS 'The phone number with every non-digit removed, for joining with other systems.';
COMMENT ON COLUMN leeloo.people.email IS 'E-mail address; empty when Leeloo says NOT_DEFINED.';
COMMENT ON COLUMN leeloo.people.tags IS 'Tag names on the person (names, not tag ids; see leeloo.tags).';
COMMENT ON COLUMN leeloo.people.gender IS 'Gender (FEMALE, MALE), when Leeloo sends it.';
COMMENT ON COLUMN leeloo.people.locale IS 'Locale such as en_US, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.people.custom_fields IS 'Custom fields of the person as a JSON object, when Leeloo sends them.';
COMMENT ON COLUMN leeloo.people.last_message_time IS 'Time of the last message in any of the person''s chats (UTC).';
COMMENT ON COLUMN leeloo.people.created_at IS 'When the person was created in Leeloo.';
COMMENT ON COLUMN leeloo.people.updated_at IS 'When the person was last updated in Leeloo, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.people.raw IS 'The person exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.people.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.person_channels (
    person_id         text        NOT NULL,
    account_id        text        NOT NULL,
    connection_id     text,
    connection_status text,
    from_messenger    text,
    raw               jsonb       NOT NULL,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, account_id)
);
CREATE INDEX person_channels_account_id_idx ON leeloo.person_channels (account_id);
COMMENT ON TABLE leeloo.person_channels IS 'Which messenger channels (communication channels, v1 accounts) belong to which person; from the person''s accounts list, replaced each time the person is read.';
COMMENT ON COLUMN leeloo.person_channels.person_id IS 'The person (leeloo.people.id).';
COMMENT ON COLUMN leeloo.person_channels.account_id IS 'The communication channel (leeloo.communication_channels.id, also the v1 account id).';
COMMENT ON COLUMN leeloo.person_channels.connection_id IS 'The company-side connection (bot or page) the channel talks through (leeloo.connections.id).';
COMMENT ON COLUMN leeloo.person_channels.connection_status IS 'State of that connection, e.g. OK or ERROR.';
COMMENT ON COLUMN leeloo.person_channels.from_messenger IS 'Messenger the channel comes from (Leeloo field "from"), e.g. FACEBOOK, TELEGRAM, MANUAL.';
COMMENT ON COLUMN leeloo.person_channels.raw IS 'The accounts[] entry exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.person_channels.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.communication_channels (
    id                text        PRIMARY KEY,
    person_id         text,
    name              text,
    from_messenger    text,
    connection_id     text,
    connection_status text,
    bot_status        text,
    tags              text[],
    utm_source        text,
    utm_medium        text,
    utm_campaign      text,
    utm_content       text,
    utm_term          text,
    last_message_time timestamptz,
    created_at        timestamptz,
    updated_at        timestamptz,
    raw               jsonb       NOT NULL,
    synced_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX communication_channels_person_id_idx ON leeloo.communication_channels (person_id);
CREATE INDEX communication_channels_last_message_time_idx ON leeloo.communication_channels (last_message_time);
CREATE INDEX communication_channels_created_at_idx ON leeloo.communication_channels (created_at);
COMMENT ON TABLE leeloo.communication_channels IS 'Communication channels: one messenger identity of a person (the v1 "account"), with the UTM tags it arrived with.';
COMMENT ON COLUMN leeloo.communication_channels.id IS 'Channel id (24-hex ObjectId); the same as the v1 account id and person_channels.account_id.';
COMMENT ON COLUMN leeloo.communication_channels.person_id IS 'The person the channel belongs to (leeloo.people.id).';
COMMENT ON COLUMN leeloo.communication_channels.name IS 'Display name of the channel (the customer''s name in that messenger).';
COMMENT ON COLUMN leeloo.communication_channels.from_messenger IS 'Messenger the channel comes from (Leeloo field "from"), e.g. FACEBOOK, TELEGRAM.';
COMMENT ON COLUMN leeloo.communication_channels.connection_id IS 'The company-side connection (leeloo.connections.id).';
COMMENT ON COLUMN leeloo.communication_channels.connection_status IS 'State of that connection, e.g. OK or ERROR.';
COMMENT ON COLUMN leeloo.communication_channels.bot_status IS 'Whether the bot (BOT) or a human (ADMIN) currently handles the chat.';
COMMENT ON COLUMN leeloo.communication_channels.tags IS 'Tag names on the channel.';
COMMENT ON COLUMN leeloo.communication_channels.utm_source IS 'UTM source the channel arrived with.';
COMMENT ON COLUMN leeloo.communication_channels.utm_medium IS 'UTM medium the channel arrived with.';
COMMENT ON COLUMN leeloo.communication_channels.utm_campaign IS 'UTM campaign the channel arrived with.';
COMMENT ON COLUMN leeloo.communication_channels.utm_content IS 'UTM content the channel arrived with.';
COMMENT ON COLUMN leeloo.communication_channels.utm_term IS 'UTM term the channel arrived with.';
COMMENT ON COLUMN leeloo.communication_channels.last_message_time IS 'Time of the last message in this chat (UTC).';
COMMENT ON COLUMN leeloo.communication_channels.created_at IS 'When the channel was added to Leeloo.';
COMMENT ON COLUMN leeloo.communication_channels.updated_at IS 'When the channel was last updated, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.communication_channels.raw IS 'The channel exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.communication_channels.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.messages (
    channel_id         text        NOT NULL,
    id                 text        NOT NULL,
    text               text,
    type               text,
    read               boolean,
    created_by_user_id text,
    created_at         timestamptz,
    updated_at         timestamptz,
    raw                jsonb       NOT NULL,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, id)
);
CREATE INDEX messages_created_at_idx ON leeloo.messages (created_at);
CREATE INDEX messages_id_idx ON leeloo.messages (id);
CREATE INDEX messages_created_by_user_id_idx ON leeloo.messages (created_by_user_id);
COMMENT ON TABLE leeloo.messages IS 'Chat messages per communication channel. Keyed by channel and message id because Leeloo has been seen to repeat message ids.';
COMMENT ON COLUMN leeloo.messages.channel_id IS 'The channel (chat) the message belongs to (leeloo.communication_channels.id, also the v1 account id).';
COMMENT ON COLUMN leeloo.messages.id IS 'Message id as Leeloo returned it (not guaranteed unique across channels).';
COMMENT ON COLUMN leeloo.messages.text IS 'Message text; may be empty (system messages) and may hold template placeholders such as {name}.';
COMMENT ON COLUMN leeloo.messages.type IS 'Who wrote it: FRIEND_MESSAGE (the customer), YOUR_MESSAGE (a platform user), BOT_MESSAGE (automation), SYSTEM_MESSAGE (notice about the customer''s action).';
COMMENT ON COLUMN leeloo.messages.read IS 'Whether the message has been read.';
COMMENT ON COLUMN leeloo.messages.created_by_user_id IS 'The platform user who sent a YOUR_MESSAGE (leeloo.users.id); empty otherwise.';
COMMENT ON COLUMN leeloo.messages.created_at IS 'When the message appeared in the chat (UTC).';
COMMENT ON COLUMN leeloo.messages.updated_at IS 'When the message was last updated (usually equal to created_at).';
COMMENT ON COLUMN leeloo.messages.raw IS 'The message exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.messages.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.orders (
    id                   text        PRIMARY KEY,
    person_id            text,
    account_id           text,
    offer_id             text,
    offer_name           text,
    payment_credits_id   text,
    payment_method       text,
    manager_id           text,
    price                numeric,
    currency             text,
    status               text,
    is_manual            boolean,
    has_partial_payments boolean,
    email                text,
    phone                text,
    phone_digits         text,
    transaction_date     timestamptz,
    payment_date         timestamptz,
    user_comments        text,
    created_at           timestamptz,
    updated_at           timestamptz,
    raw                  jsonb       NOT NULL,
    synced_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_person_id_idx ON leeloo.orders (person_id);
CREATE INDEX orders_account_id_idx ON leeloo.orders (account_id);
CREATE INDEX orders_created_at_idx ON leeloo.orders (created_at);
CREATE INDEX orders_transaction_date_idx ON leeloo.orders (transaction_date);
COMMENT ON TABLE leeloo.orders IS 'Orders (purchases or deals). Orders that disappear from the API are kept.';
COMMENT ON COLUMN leeloo.orders.id IS 'Leeloo order id (24-hex ObjectId).';
COMMENT ON COLUMN leeloo.orders.person_id IS 'The person who ordered (leeloo.people.id).';
COMMENT ON COLUMN leeloo.orders.account_id IS 'The channel the order came through (leeloo.communication_channels.id).';
COMMENT ON COLUMN leeloo.orders.offer_id IS 'The offer (product or price) ordered.';
COMMENT ON COLUMN leeloo.orders.offer_name IS 'Name of the offer.';
COMMENT ON COLUMN leeloo.orders.payment_credits_id IS 'The payment system integration used (Leeloo paymentCreditsId).';
COMMENT ON COLUMN leeloo.orders.payment_method IS 'Payment service, e.g. ASSET_PAYMENT, YANDEX_MONEY.';
COMMENT ON COLUMN leeloo.orders.manager_id IS 'The platform user credited with the sale (leeloo.users.id); empty means "System".';
COMMENT ON COLUMN leeloo.orders.price IS 'Order amount in the order''s currency (for manual orders: the amount actually received).';
COMMENT ON COLUMN leeloo.orders.currency IS 'Currency code, e.g. UAH, USD.';
COMMENT ON COLUMN leeloo.orders.status IS 'Order status as Leeloo sends it (free text: SUCCESS, RESOLVED, REJECTED, a pending state...).';
COMMENT ON COLUMN leeloo.orders.is_manual IS 'True for orders created by hand or through the API rather than by a payment provider.';
COMMENT ON COLUMN leeloo.orders.has_partial_payments IS 'True when the order is paid in instalments.';
COMMENT ON COLUMN leeloo.orders.email IS 'Customer e-mail on the order, when present; empty when NOT_DEFINED.';
COMMENT ON COLUMN leeloo.orders.phone IS 'Customer phone on the order as returned, when present.';
COMMENT ON COLUMN leeloo.orders.phone_digits IS 'The order phone with every non-digit removed.';
COMMENT ON COLUMN leeloo.orders.transaction_date IS 'When the transaction happened.';
COMMENT ON COLUMN leeloo.orders.payment_date IS 'When the payment was received, when known.';
COMMENT ON COLUMN leeloo.orders.user_comments IS 'Comments a platform user wrote on the order.';
COMMENT ON COLUMN leeloo.orders.created_at IS 'When the order was created.';
COMMENT ON COLUMN leeloo.orders.updated_at IS 'When the order (its status) was last updated.';
COMMENT ON COLUMN leeloo.orders.raw IS 'The order exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.orders.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.tunnels (
    id              text        PRIMARY KEY,
    name            text,
    status          text,
    leadgentool_ids text[],
    created_at      timestamptz,
    updated_at      timestamptz,
    raw             jsonb       NOT NULL,
    synced_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE leeloo.tunnels IS 'Tunnels: automated chatbot sales funnels that subscribers move through.';
COMMENT ON COLUMN leeloo.tunnels.id IS 'Leeloo tunnel id.';
COMMENT ON COLUMN leeloo.tunnels.name IS 'Tunnel name (the tunnelName in subscription history).';
COMMENT ON COLUMN leeloo.tunnels.status IS 'Tunnel status, e.g. ACTIVE.';
COMMENT ON COLUMN leeloo.tunnels.leadgentool_ids IS 'Ids of the tunnel''s lead generation tools (leeloo.leadgentools.id).';
COMMENT ON COLUMN leeloo.tunnels.created_at IS 'When the tunnel was created.';
COMMENT ON COLUMN leeloo.tunnels.updated_at IS 'When the tunnel was last updated.';
COMMENT ON COLUMN leeloo.tunnels.raw IS 'The tunnel exactly as the API returned it in the list (JSON).';
COMMENT ON COLUMN leeloo.tunnels.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.leadgentools (
    id         text        PRIMARY KEY,
    tunnel_id  text        NOT NULL,
    name       text,
    created_at timestamptz,
    updated_at timestamptz,
    raw        jsonb       NOT NULL,
    synced_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leadgentools_tunnel_id_idx ON leeloo.leadgentools (tunnel_id);
COMMENT ON TABLE leeloo.leadgentools IS 'Lead generation tools (LGTs): entry points (links, widgets, QR codes) that subscribe people to a tunnel. Replaced per tunnel on every read.';
COMMENT ON COLUMN leeloo.leadgentools.id IS 'Leeloo lead generation tool id.';
COMMENT ON COLUMN leeloo.leadgentools.tunnel_id IS 'The tunnel the tool subscribes people to (leeloo.tunnels.id).';
COMMENT ON COLUMN leeloo.leadgentools.name IS 'Tool name (the leadgentoolName in subscription history).';
COMMENT ON COLUMN leeloo.leadgentools.created_at IS 'When the tool was created.';
COMMENT ON COLUMN leeloo.leadgentools.updated_at IS 'When the tool was last updated, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.leadgentools.raw IS 'The tool exactly as the API returned it (JSON, traffic sources included).';
COMMENT ON COLUMN leeloo.leadgentools.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.traffic_sources (
    leadgentool_id text        NOT NULL,
    source_key     text        NOT NULL,
    id             text,
    tunnel_id      text        NOT NULL,
    name           text,
    description    text,
    raw            jsonb       NOT NULL,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (leadgentool_id, source_key)
);
CREATE INDEX traffic_sources_tunnel_id_idx ON leeloo.traffic_sources (tunnel_id);
COMMENT ON TABLE leeloo.traffic_sources IS 'Traffic sources: attribution labels under a lead generation tool (e.g. "Default traffic source"). Replaced per tunnel on every read.';
COMMENT ON COLUMN leeloo.traffic_sources.leadgentool_id IS 'The lead generation tool (leeloo.leadgentools.id).';
COMMENT ON COLUMN leeloo.traffic_sources.source_key IS 'Key of the source within its tool: the Leeloo id when the API sends one, else "name:" followed by its name.';
COMMENT ON COLUMN leeloo.traffic_sources.id IS 'Leeloo traffic source id, when the API sends one.';
COMMENT ON COLUMN leeloo.traffic_sources.tunnel_id IS 'The tunnel of the tool (leeloo.tunnels.id).';
COMMENT ON COLUMN leeloo.traffic_sources.name IS 'Traffic source name (the trafficSource in subscription history).';
COMMENT ON COLUMN leeloo.traffic_sources.description IS 'Description of the traffic source.';
COMMENT ON COLUMN leeloo.traffic_sources.raw IS 'The traffic source exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.traffic_sources.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.tunnel_stats (
    tunnel_id                text        NOT NULL,
    captured_at              timestamptz NOT NULL,
    tunnel_name              text,
    subscribers_count        bigint,
    active_subscribers_count bigint,
    unsubscribed_count       bigint,
    orders_count             bigint,
    successful_orders_count  bigint,
    revenue                  jsonb,
    raw                      jsonb       NOT NULL,
    synced_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tunnel_id, captured_at)
);
CREATE INDEX tunnel_stats_captured_at_idx ON leeloo.tunnel_stats (captured_at);
COMMENT ON TABLE leeloo.tunnel_stats IS 'Tunnel statistics: one snapshot of each tunnel''s current (lifetime) figures per sync run, stamped with the time crmsync read them.';
COMMENT ON COLUMN leeloo.tunnel_stats.tunnel_id IS 'The tunnel (leeloo.tunnels.id).';
COMMENT ON COLUMN leeloo.tunnel_stats.captured_at IS 'When crmsync read these figures (start of the sync run); the API has no time range.';
COMMENT ON COLUMN leeloo.tunnel_stats.tunnel_name IS 'Tunnel name at that time.';
COMMENT ON COLUMN leeloo.tunnel_stats.subscribers_count IS 'People ever subscribed to the tunnel.';
COMMENT ON COLUMN leeloo.tunnel_stats.active_subscribers_count IS 'Subscribers still active in the tunnel.';
COMMENT ON COLUMN leeloo.tunnel_stats.unsubscribed_count IS 'Subscribers who left the tunnel.';
COMMENT ON COLUMN leeloo.tunnel_stats.orders_count IS 'Orders attributed to the tunnel.';
COMMENT ON COLUMN leeloo.tunnel_stats.successful_orders_count IS 'Successful (paid) orders attributed to the tunnel.';
COMMENT ON COLUMN leeloo.tunnel_stats.revenue IS 'Revenue per currency as the API returned it (JSON array of {currency, amount}); one row per currency in tunnel_stats_revenue.';
COMMENT ON COLUMN leeloo.tunnel_stats.raw IS 'The statistics object exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.tunnel_stats.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.tunnel_stats_revenue (
    tunnel_id   text        NOT NULL,
    captured_at timestamptz NOT NULL,
    ordinal     integer     NOT NULL,
    currency    text,
    amount      numeric,
    raw         jsonb       NOT NULL,
    synced_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tunnel_id, captured_at, ordinal)
);
COMMENT ON TABLE leeloo.tunnel_stats_revenue IS 'Revenue of a tunnel statistics snapshot, one row per entry of its revenue list (normally one per currency).';
COMMENT ON COLUMN leeloo.tunnel_stats_revenue.tunnel_id IS 'The tunnel (leeloo.tunnels.id).';
COMMENT ON COLUMN leeloo.tunnel_stats_revenue.captured_at IS 'The snapshot (leeloo.tunnel_stats.captured_at).';
COMMENT ON COLUMN leeloo.tunnel_stats_revenue.ordinal IS 'Position of the entry in the revenue list, from 0.';
COMMENT ON COLUMN leeloo.tunnel_stats_revenue.currency IS 'Currency code, e.g. UAH.';
COMMENT ON COLUMN leeloo.tunnel_stats_revenue.amount IS 'Revenue in that currency.';
COMMENT ON COLUMN leeloo.tunnel_stats_revenue.raw IS 'The revenue entry exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.tunnel_stats_revenue.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.users (
    id         text        PRIMARY KEY,
    name       text,
    email      text,
    role       text,
    created_at timestamptz,
    updated_at timestamptz,
    raw        jsonb       NOT NULL,
    synced_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE leeloo.users IS 'Platform users: staff of the company workspace (managers who chat and sell).';
COMMENT ON COLUMN leeloo.users.id IS 'Leeloo user id; what orders.manager_id and messages.created_by_user_id refer to.';
COMMENT ON COLUMN leeloo.users.name IS 'User name.';
COMMENT ON COLUMN leeloo.users.email IS 'User e-mail, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.users.role IS 'User role, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.users.created_at IS 'When the user was created (Leeloo may send minute precision).';
COMMENT ON COLUMN leeloo.users.updated_at IS 'When the user was last updated.';
COMMENT ON COLUMN leeloo.users.raw IS 'The user exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.users.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.tags (
    id        text        PRIMARY KEY,
    name      text,
    raw       jsonb       NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tags_name_idx ON leeloo.tags (name);
COMMENT ON TABLE leeloo.tags IS 'Tags; people and channels carry tag names, this table maps names to tag ids.';
COMMENT ON COLUMN leeloo.tags.id IS 'Leeloo tag id.';
COMMENT ON COLUMN leeloo.tags.name IS 'Tag name, as it appears in people.tags and communication_channels.tags.';
COMMENT ON COLUMN leeloo.tags.raw IS 'The tag exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.tags.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.connections (
    id             text        PRIMARY KEY,
    name           text,
    type           text,
    from_messenger text,
    status         text,
    created_at     timestamptz,
    updated_at     timestamptz,
    raw            jsonb       NOT NULL,
    synced_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE leeloo.connections IS 'Connections: the company''s messenger integrations (a bot or a page) that channels talk through.';
COMMENT ON COLUMN leeloo.connections.id IS 'Leeloo connection id (person_channels.connection_id).';
COMMENT ON COLUMN leeloo.connections.name IS 'Connection name.';
COMMENT ON COLUMN leeloo.connections.type IS 'Connection type, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.connections.from_messenger IS 'Messenger of the connection (Leeloo field "from"), when Leeloo sends it.';
COMMENT ON COLUMN leeloo.connections.status IS 'Connection status, e.g. OK or ERROR.';
COMMENT ON COLUMN leeloo.connections.created_at IS 'When the connection was created.';
COMMENT ON COLUMN leeloo.connections.updated_at IS 'When the connection was last updated, when Leeloo sends it.';
COMMENT ON COLUMN leeloo.connections.raw IS 'The connection exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.connections.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.template_categories (
    id        text        PRIMARY KEY,
    name      text,
    raw       jsonb       NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE leeloo.template_categories IS 'Categories of message templates.';
COMMENT ON COLUMN leeloo.template_categories.id IS 'Leeloo template category id.';
COMMENT ON COLUMN leeloo.template_categories.name IS 'Category name.';
COMMENT ON COLUMN leeloo.template_categories.raw IS 'The category exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.template_categories.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.templates (
    category_id  text        NOT NULL,
    id           text        NOT NULL,
    message_name text,
    raw          jsonb       NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_id, id)
);
CREATE INDEX templates_id_idx ON leeloo.templates (id);
COMMENT ON TABLE leeloo.templates IS 'Message templates per category; replaced per category on every read.';
COMMENT ON COLUMN leeloo.templates.category_id IS 'The category (leeloo.template_categories.id).';
COMMENT ON COLUMN leeloo.templates.id IS 'Leeloo template id (what send-template takes).';
COMMENT ON COLUMN leeloo.templates.message_name IS 'Template name.';
COMMENT ON COLUMN leeloo.templates.raw IS 'The template exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.templates.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.accounts (
    id                 text        PRIMARY KEY,
    name               text,
    tags               text[],
    from_messenger     text,
    bot_status         text,
    email              text,
    phone              text,
    phone_digits       text,
    gender             text,
    locale             text,
    contacted_user_ids text[],
    order_ids          text[],
    last_message_time  timestamptz,
    created_at         timestamptz,
    updated_at         timestamptz,
    raw                jsonb       NOT NULL,
    detail_raw         jsonb,
    synced_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_last_message_time_idx ON leeloo.accounts (last_message_time);
CREATE INDEX accounts_created_at_idx ON leeloo.accounts (created_at);
COMMENT ON TABLE leeloo.accounts IS 'Subscriber accounts as the v1 API shows them (a v1 account is a v2 communication channel), with the detail fields.';
COMMENT ON COLUMN leeloo.accounts.id IS 'Account id; the same as leeloo.communication_channels.id.';
COMMENT ON COLUMN leeloo.accounts.name IS 'Display name of the account.';
COMMENT ON COLUMN leeloo.accounts.tags IS 'Tag names on the account.';
COMMENT ON COLUMN leeloo.accounts.from_messenger IS 'Messenger of origin (Leeloo field "from"), e.g. FACEBOOK, TELEGRAM.';
COMMENT ON COLUMN leeloo.accounts.bot_status IS 'Whether the bot (BOT) or a human (ADMIN) currently handles the chat.';
COMMENT ON COLUMN leeloo.accounts.email IS 'E-mail, when Leeloo sends it; empty when NOT_DEFINED.';
COMMENT ON COLUMN leeloo.accounts.phone IS 'Phone as returned, when Leeloo sends it; empty when NOT_DEFINED.';
COMMENT ON COLUMN leeloo.accounts.phone_digits IS 'The phone with every non-digit removed.';
COMMENT ON COLUMN leeloo.accounts.gender IS 'Gender from the account detail (FEMALE, MALE).';
COMMENT ON COLUMN leeloo.accounts.locale IS 'Locale from the account detail, e.g. en_US.';
COMMENT ON COLUMN leeloo.accounts.contacted_user_ids IS 'Platform users who chatted with the account (leeloo.users.id).';
COMMENT ON COLUMN leeloo.accounts.order_ids IS 'Orders of the account (leeloo.orders.id).';
COMMENT ON COLUMN leeloo.accounts.last_message_time IS 'Time of the last message in the chat (UTC).';
COMMENT ON COLUMN leeloo.accounts.created_at IS 'When the account was added to Leeloo.';
COMMENT ON COLUMN leeloo.accounts.updated_at IS 'When the account was last updated (from the detail).';
COMMENT ON COLUMN leeloo.accounts.raw IS 'The account exactly as the list returned it (JSON).';
COMMENT ON COLUMN leeloo.accounts.detail_raw IS 'The whole account detail answer (data and included users and orders) exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.accounts.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE leeloo.account_subscriptions (
    account_id       text        NOT NULL,
    ordinal          integer     NOT NULL,
    tunnel_name      text,
    leadgentool_name text,
    traffic_source   text,
    raw              jsonb       NOT NULL,
    synced_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, ordinal)
);
COMMENT ON TABLE leeloo.account_subscriptions IS 'Subscription history of v1 accounts: which tunnel, tool and traffic source they entered through (names only; Leeloo gives no ids or times). Replaced per account on every read.';
COMMENT ON COLUMN leeloo.account_subscriptions.account_id IS 'The account (leeloo.accounts.id).';
COMMENT ON COLUMN leeloo.account_subscriptions.ordinal IS 'Position in the account''s subscription history as the API lists it, from 0.';
COMMENT ON COLUMN leeloo.account_subscriptions.tunnel_name IS 'Tunnel name (leeloo.tunnels.name).';
COMMENT ON COLUMN leeloo.account_subscriptions.leadgentool_name IS 'Lead generation tool name (leeloo.leadgentools.name).';
COMMENT ON COLUMN leeloo.account_subscriptions.traffic_source IS 'Traffic source name (leeloo.traffic_sources.name).';
COMMENT ON COLUMN leeloo.account_subscriptions.raw IS 'The history entry exactly as the API returned it (JSON).';
COMMENT ON COLUMN leeloo.account_subscriptions.synced_at IS 'When crmsync last inserted or changed this row.';

-- +goose Down
DROP SCHEMA leeloo CASCADE;
