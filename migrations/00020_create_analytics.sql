-- +goose Up
-- The analytics schema: views over the platforms' tables for analysts and Metabase. They
-- hide deleted rows (deleted_at), raw JSON and crmsync's own columns, speak one vocabulary
-- across platforms, and join people on phone_e164. The codes each platform uses for who
-- wrote a message and for payment statuses are mapped in two small tables of this schema
-- (message_types, status_groups), the one place to change them; the views only join them.
--
-- Times: every *_at column is a timestamptz, an instant that PostgreSQL and Metabase show
-- in the session's (report's) time zone. Every day column is the UTC calendar day of that
-- instant, (t AT TIME ZONE 'UTC')::date; for another zone group by
-- (t AT TIME ZONE 'Europe/Moscow')::date instead.
CREATE SCHEMA analytics;
COMMENT ON SCHEMA analytics IS 'Views for analysts and Metabase: messages, contacts, response times, revenue and freshness across Leeloo, Text Request, TWIN and Calltouch, without deleted rows, raw JSON or internal columns. Times are timestamptz (shown in your time zone); day columns are UTC days.';

CREATE TABLE analytics.message_types (
    platform    text NOT NULL,
    code        text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    author_kind text NOT NULL CHECK (author_kind IN ('contact', 'agent', 'bot', 'system')),
    meaning     text NOT NULL,
    PRIMARY KEY (platform, code)
);
COMMENT ON TABLE analytics.message_types IS 'How each platform''s message code maps to a direction and an author kind: the one place analytics.messages takes them from. A code missing here gives NULL direction and author_kind; add a row.';
COMMENT ON COLUMN analytics.message_types.platform IS 'leeloo, textrequest or twin.';
COMMENT ON COLUMN analytics.message_types.code IS 'The platform''s code: Leeloo messages.type, Text Request message_direction, TWIN messages.author_type.';
COMMENT ON COLUMN analytics.message_types.direction IS 'inbound: written by the contact; outbound: written on the company''s side (an agent, a bot or a system notice).';
COMMENT ON COLUMN analytics.message_types.author_kind IS 'contact, agent (a person of the company), bot (automation) or system (a notice the platform writes). An agent message whose sender is listed in analytics.automation_users, or has no sender, counts as bot.';
COMMENT ON COLUMN analytics.message_types.meaning IS 'What the code means, from the platform''s documentation.';
INSERT INTO analytics.message_types VALUES
    ('leeloo', 'FRIEND_MESSAGE', 'inbound', 'contact', 'Written by the customer.'),
    ('leeloo', 'YOUR_MESSAGE', 'outbound', 'agent', 'Typed by a platform user on the Chats page.'),
    ('leeloo', 'BOT_MESSAGE', 'outbound', 'bot', 'Sent without a human: broadcast, tunnel, smart reply, greeting.'),
    ('leeloo', 'SYSTEM_MESSAGE', 'outbound', 'system', 'Notice about the customer''s own action (subscription, order created or changed).'),
    ('textrequest', 'R', 'inbound', 'contact', 'Received from the contact.'),
    ('textrequest', 'S', 'outbound', 'agent', 'Sent to the contact by a Text Request user (response_by_username).'),
    ('twin', 'client', 'inbound', 'contact', 'Written by the client.'),
    ('twin', 'operator', 'outbound', 'agent', 'Written by an operator.'),
    ('twin', 'bot', 'outbound', 'bot', 'Written by the bot.'),
    ('twin', 'system', 'outbound', 'system', 'Written by the platform.');

CREATE TABLE analytics.automation_users (
    platform  text NOT NULL,
    user_name text NOT NULL,
    why       text NOT NULL,
    PRIMARY KEY (platform, user_name)
);
COMMENT ON TABLE analytics.automation_users IS 'Senders that look like agents but are automation: their messages count as bot in analytics.messages (and are no agent''s replies).';
COMMENT ON COLUMN analytics.automation_users.platform IS 'leeloo, textrequest or twin.';
COMMENT ON COLUMN analytics.automation_users.user_name IS 'The sender as analytics.messages shows it in agent (Leeloo user name, Text Request user name, TWIN author name).';
COMMENT ON COLUMN analytics.automation_users.why IS 'Why it is automation.';
INSERT INTO analytics.automation_users VALUES
    ('textrequest', 'api', 'Messages sent through the Text Request API by integrations, not by a person.');

CREATE TABLE analytics.status_groups (
    platform     text NOT NULL,
    status       text NOT NULL,
    status_group text NOT NULL CHECK (status_group IN ('paid', 'pending', 'failed', 'refunded', 'other')),
    PRIMARY KEY (platform, status)
);
COMMENT ON TABLE analytics.status_groups IS 'How each platform''s order or payment status maps to a status group: the one place analytics.revenue takes it from. Statuses are compared in lower case; one missing here is other. Neither API documents a refund status: the refund rows name the statuses a refund would most likely carry.';
COMMENT ON COLUMN analytics.status_groups.platform IS 'leeloo (orders.status) or textrequest (payments.textrequest_payment_status).';
COMMENT ON COLUMN analytics.status_groups.status IS 'The status in lower case.';
COMMENT ON COLUMN analytics.status_groups.status_group IS 'paid (money received), pending (asked, not paid yet), failed (will not be paid: failed, declined, rejected or cancelled), refunded, other.';
INSERT INTO analytics.status_groups VALUES
    ('leeloo', 'success', 'paid'),
    ('leeloo', 'resolved', 'paid'),
    ('leeloo', 'pending', 'pending'),
    ('leeloo', 'rejected', 'failed'),
    ('leeloo', 'failed', 'failed'),
    ('leeloo', 'cancelled', 'failed'),
    ('leeloo', 'canceled', 'failed'),
    ('leeloo', 'refunded', 'refunded'),
    ('leeloo', 'refund', 'refunded'),
    ('textrequest', 'paid', 'paid'),
    ('textrequest', 'markedaspaid', 'paid'),
    ('textrequest', 'sent', 'pending'),
    ('textrequest', 'pastdue', 'pending'),
    ('textrequest', 'failed', 'failed'),
    ('textrequest', 'cancelled', 'failed'),
    ('textrequest', 'refunded', 'refunded');

-- Indexes the views' typical queries need: a conversation's messages in time order (the
-- reply to a message), and messages by UTC day.
CREATE INDEX messages_channel_created_idx ON leeloo.messages (channel_id, created_at);
CREATE INDEX messages_utc_day_idx ON leeloo.messages (((created_at AT TIME ZONE 'UTC')::date));
CREATE INDEX messages_conversation_idx ON textrequest.messages ((dashboard_id::text || ':' || phone_number), message_timestamp_utc);
CREATE INDEX messages_utc_day_idx ON textrequest.messages (((message_timestamp_utc AT TIME ZONE 'UTC')::date));
CREATE INDEX messages_created_at_idx ON twin.messages (created_at);
CREATE INDEX messages_utc_day_idx ON twin.messages (((created_at AT TIME ZONE 'UTC')::date));

CREATE VIEW analytics.messages AS
SELECT m.platform,
       m.conversation_key,
       m.message_id,
       m.phone_e164,
       m.channel,
       t.direction,
       CASE WHEN t.author_kind = 'agent' AND (m.sender IS NULL OR a.user_name IS NOT NULL) THEN 'bot'
            ELSE t.author_kind END AS author_kind,
       CASE WHEN t.author_kind = 'agent' AND a.user_name IS NULL THEN m.sender END AS agent,
       m.sender,
       m.sent_at,
       (m.sent_at AT TIME ZONE 'UTC')::date AS day,
       m.body,
       m.delivery_status
FROM (
    SELECT 'leeloo'::text AS platform, m.channel_id AS conversation_key, m.id AS message_id,
           coalesce(p.phone_e164, ac.phone_e164) AS phone_e164, c.from_messenger AS channel,
           m.type AS code, coalesce(u.name, nullif(m.created_by_user_id, '')) AS sender,
           m.created_at AS sent_at, m.text AS body, NULL::text AS delivery_status
    FROM leeloo.messages m
    LEFT JOIN leeloo.communication_channels c ON c.id = m.channel_id
    LEFT JOIN leeloo.people p ON p.id = c.person_id AND p.deleted_at IS NULL
    LEFT JOIN leeloo.accounts ac ON ac.id = m.channel_id AND ac.deleted_at IS NULL
    LEFT JOIN leeloo.users u ON u.id = m.created_by_user_id
    WHERE m.deleted_at IS NULL AND c.deleted_at IS NULL
    UNION ALL
    SELECT 'textrequest', m.dashboard_id::text || ':' || m.phone_number, m.message_id,
           m.phone_e164, 'SMS',
           m.message_direction, nullif(m.response_by_username, ''),
           m.message_timestamp_utc, m.body, m.delivery_status
    FROM textrequest.messages m
    WHERE m.deleted_at IS NULL
      AND NOT EXISTS (SELECT FROM textrequest.contacts k
                      WHERE k.dashboard_id = m.dashboard_id AND k.phone_number = m.phone_number AND k.deleted_at IS NOT NULL)
    UNION ALL
    SELECT 'twin', m.session_id, m.id,
           s.phone_e164, s.messenger_type,
           m.author_type, nullif(m.author_name, ''),
           m.created_at, m.body, NULL
    FROM twin.messages m
    LEFT JOIN twin.sessions s ON s.id = m.session_id
    WHERE m.deleted_at IS NULL AND s.deleted_at IS NULL
) m
LEFT JOIN analytics.message_types t ON t.platform = m.platform AND t.code = m.code
LEFT JOIN analytics.automation_users a ON a.platform = m.platform AND a.user_name = m.sender;
COMMENT ON VIEW analytics.messages IS 'One row per message on any platform (Leeloo chats, Text Request SMS, TWIN sessions), with who wrote it in one vocabulary (analytics.message_types). Calltouch has no messages (see analytics.contacts). Messages of deleted chats, contacts or sessions are left out.';
COMMENT ON COLUMN analytics.messages.platform IS 'leeloo, textrequest or twin.';
COMMENT ON COLUMN analytics.messages.conversation_key IS 'The conversation within its platform: Leeloo channel id (leeloo.communication_channels.id, orders.account_id), Text Request dashboard_id:phone_number (textrequest.conversations), TWIN session id (twin.sessions.id). Unique with platform.';
COMMENT ON COLUMN analytics.messages.message_id IS 'The platform''s message id (Leeloo ids repeat across channels: unique with platform and conversation_key).';
COMMENT ON COLUMN analytics.messages.phone_e164 IS 'The contact''s phone in E.164 form (join to analytics.contacts.phone_e164); NULL when unknown.';
COMMENT ON COLUMN analytics.messages.channel IS 'Messenger of the conversation: Leeloo channel''s from (TELEGRAM, FACEBOOK, ...), SMS for Text Request, TWIN session''s messenger_type.';
COMMENT ON COLUMN analytics.messages.direction IS 'inbound (from the contact) or outbound (from the company''s side), from analytics.message_types.';
COMMENT ON COLUMN analytics.messages.author_kind IS 'contact, agent, bot or system, from analytics.message_types; an agent message without a sender or from a sender in analytics.automation_users (Text Request''s api) is bot.';
COMMENT ON COLUMN analytics.messages.agent IS 'The person who wrote an agent message (Leeloo user name, Text Request user name, TWIN operator name); NULL for every other author kind.';
COMMENT ON COLUMN analytics.messages.sender IS 'The sender as the platform names it (user, username or author name), for any author kind; NULL when the platform names none.';
COMMENT ON COLUMN analytics.messages.sent_at IS 'When the message was sent or received (timestamptz: an instant, shown in your time zone).';
COMMENT ON COLUMN analytics.messages.day IS 'UTC day of sent_at: (sent_at AT TIME ZONE ''UTC'')::date.';
COMMENT ON COLUMN analytics.messages.body IS 'Message text.';
COMMENT ON COLUMN analytics.messages.delivery_status IS 'Delivery status of a Text Request message (delivered, error, ...); NULL elsewhere.';

CREATE VIEW analytics.daily_messages AS
SELECT day, platform, direction,
       count(*) AS messages,
       count(DISTINCT conversation_key) AS conversations,
       count(DISTINCT phone_e164) AS contacts
FROM analytics.messages
GROUP BY day, platform, direction;
COMMENT ON VIEW analytics.daily_messages IS 'Messages per UTC day, platform and direction.';
COMMENT ON COLUMN analytics.daily_messages.day IS 'UTC day: (sent_at AT TIME ZONE ''UTC'')::date.';
COMMENT ON COLUMN analytics.daily_messages.platform IS 'leeloo, textrequest or twin.';
COMMENT ON COLUMN analytics.daily_messages.direction IS 'inbound or outbound.';
COMMENT ON COLUMN analytics.daily_messages.messages IS 'Messages that day.';
COMMENT ON COLUMN analytics.daily_messages.conversations IS 'Conversations with a message that day.';
COMMENT ON COLUMN analytics.daily_messages.contacts IS 'Distinct contacts (phone_e164) with a message that day; contacts without a readable phone are not counted.';

CREATE VIEW analytics.response_times AS
SELECT i.platform, i.conversation_key, i.message_id, i.phone_e164, i.channel,
       i.sent_at AS inbound_at,
       i.day,
       c.previous IS DISTINCT FROM 'inbound' AS opens_turn,
       c.replied_at,
       c.replied_by,
       extract(epoch FROM c.replied_at - i.sent_at) AS response_seconds,
       c.agent,
       c.agent_replied_at,
       extract(epoch FROM c.agent_replied_at - i.sent_at) AS agent_response_seconds
FROM analytics.messages i
-- One look at the conversation per inbound message (conversations are short): the
-- message before it, and the first replies after it.
LEFT JOIN LATERAL (
    SELECT (array_agg(o.direction ORDER BY o.sent_at DESC)
                FILTER (WHERE o.sent_at < i.sent_at AND o.author_kind <> 'system'))[1] AS previous,
           min(o.sent_at) FILTER (WHERE o.sent_at > i.sent_at AND o.author_kind IN ('agent', 'bot')) AS replied_at,
           (array_agg(o.author_kind ORDER BY o.sent_at)
                FILTER (WHERE o.sent_at > i.sent_at AND o.author_kind IN ('agent', 'bot')))[1] AS replied_by,
           min(o.sent_at) FILTER (WHERE o.sent_at > i.sent_at AND o.author_kind = 'agent') AS agent_replied_at,
           (array_agg(o.agent ORDER BY o.sent_at)
                FILTER (WHERE o.sent_at > i.sent_at AND o.author_kind = 'agent'))[1] AS agent
    FROM analytics.messages o
    WHERE o.platform = i.platform AND o.conversation_key = i.conversation_key) c ON true
WHERE i.direction = 'inbound';
COMMENT ON VIEW analytics.response_times IS 'One row per inbound message, with the first reply after it in its conversation (by an agent or a bot; system notices are no reply) and the first reply by an agent. A burst of inbound messages shares one reply: average over opens_turn rows for per-turn response times.';
COMMENT ON COLUMN analytics.response_times.platform IS 'leeloo, textrequest or twin.';
COMMENT ON COLUMN analytics.response_times.conversation_key IS 'The conversation (analytics.messages.conversation_key).';
COMMENT ON COLUMN analytics.response_times.message_id IS 'The inbound message (analytics.messages.message_id).';
COMMENT ON COLUMN analytics.response_times.phone_e164 IS 'The contact''s phone in E.164 form; NULL when unknown.';
COMMENT ON COLUMN analytics.response_times.channel IS 'Messenger of the conversation (analytics.messages.channel).';
COMMENT ON COLUMN analytics.response_times.inbound_at IS 'When the inbound message arrived.';
COMMENT ON COLUMN analytics.response_times.day IS 'UTC day of inbound_at.';
COMMENT ON COLUMN analytics.response_times.opens_turn IS 'True when the message before it in the conversation (system notices aside) was not from the contact, or there was none: the first message of the contact''s turn, the one a response time is usually measured from.';
COMMENT ON COLUMN analytics.response_times.replied_at IS 'First agent or bot message after it in the conversation; NULL when unanswered.';
COMMENT ON COLUMN analytics.response_times.replied_by IS 'agent or bot: who wrote that first reply.';
COMMENT ON COLUMN analytics.response_times.response_seconds IS 'Seconds from inbound_at to replied_at; NULL when unanswered.';
COMMENT ON COLUMN analytics.response_times.agent IS 'The agent who wrote the first agent reply (bots and the api user are no agents); NULL when no agent replied.';
COMMENT ON COLUMN analytics.response_times.agent_replied_at IS 'First agent message after it in the conversation; NULL when no agent replied.';
COMMENT ON COLUMN analytics.response_times.agent_response_seconds IS 'Seconds from inbound_at to agent_replied_at; NULL when no agent replied.';

CREATE VIEW analytics.agents AS
SELECT day, platform, agent,
       count(*) FILTER (WHERE kind = 'sent') AS messages,
       count(DISTINCT conversation_key) FILTER (WHERE kind = 'sent') AS conversations,
       count(*) FILTER (WHERE kind = 'answered') AS turns_answered,
       round(avg(seconds)::numeric, 1) AS avg_response_seconds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median_response_seconds
FROM (
    SELECT day, platform, agent, conversation_key, 'sent' AS kind, NULL::numeric AS seconds
    FROM analytics.messages WHERE author_kind = 'agent'
    UNION ALL
    SELECT day, platform, agent, conversation_key, 'answered', agent_response_seconds
    FROM analytics.response_times WHERE opens_turn AND agent IS NOT NULL
) x
GROUP BY day, platform, agent;
COMMENT ON VIEW analytics.agents IS 'Per agent and UTC day: messages sent, and the contacts'' turns (analytics.response_times rows with opens_turn) that arrived that day and that this agent answered first, with how fast. Bots and the api user are no agents.';
COMMENT ON COLUMN analytics.agents.day IS 'UTC day (of the message sent, or of the inbound message answered).';
COMMENT ON COLUMN analytics.agents.platform IS 'leeloo, textrequest or twin.';
COMMENT ON COLUMN analytics.agents.agent IS 'Agent name (analytics.messages.agent).';
COMMENT ON COLUMN analytics.agents.messages IS 'Messages the agent sent that day.';
COMMENT ON COLUMN analytics.agents.conversations IS 'Conversations the agent wrote in that day.';
COMMENT ON COLUMN analytics.agents.turns_answered IS 'Contacts'' turns that started that day and that this agent answered first among agents.';
COMMENT ON COLUMN analytics.agents.avg_response_seconds IS 'Average seconds to this agent''s first reply over those turns.';
COMMENT ON COLUMN analytics.agents.median_response_seconds IS 'Median seconds to this agent''s first reply over those turns.';

CREATE VIEW analytics.revenue AS
SELECT r.platform, r.revenue_id, r.amount, r.currency, r.status,
       coalesce(g.status_group, 'other') AS status_group,
       r.occurred_at, (r.occurred_at AT TIME ZONE 'UTC')::date AS day,
       r.phone_e164, r.conversation_key, r.description
FROM (
    SELECT 'leeloo'::text AS platform, o.id AS revenue_id, o.price AS amount, upper(o.currency) AS currency, o.status,
           coalesce(o.payment_date, o.transaction_date, o.created_at) AS occurred_at,
           coalesce(o.phone_e164, p.phone_e164) AS phone_e164, o.account_id AS conversation_key,
           o.offer_name AS description
    FROM leeloo.orders o
    LEFT JOIN leeloo.people p ON p.id = o.person_id AND p.deleted_at IS NULL
    WHERE o.deleted_at IS NULL
    UNION ALL
    SELECT 'textrequest', y.payment_id::text, y.amount_requested, 'USD', y.textrequest_payment_status,
           y.request_date, y.phone_e164, y.dashboard_id::text || ':' || y.customer_phone, y.description
    FROM textrequest.payments y
    WHERE y.deleted_at IS NULL
) r
LEFT JOIN analytics.status_groups g ON g.platform = r.platform AND g.status = lower(r.status);
COMMENT ON VIEW analytics.revenue IS 'One row per Leeloo order or Text Request payment request, in its own currency: sum amount only grouped by currency. status_group comes from analytics.status_groups.';
COMMENT ON COLUMN analytics.revenue.platform IS 'leeloo (orders) or textrequest (payments).';
COMMENT ON COLUMN analytics.revenue.revenue_id IS 'Leeloo order id or Text Request payment id (as text).';
COMMENT ON COLUMN analytics.revenue.amount IS 'Amount in currency: the order price, or the amount requested.';
COMMENT ON COLUMN analytics.revenue.currency IS 'Currency code in upper case; Text Request payments are in USD.';
COMMENT ON COLUMN analytics.revenue.status IS 'The status as the platform sends it (Leeloo orders.status, Text Request textrequest_payment_status).';
COMMENT ON COLUMN analytics.revenue.status_group IS 'paid, pending, failed, refunded or other (analytics.status_groups).';
COMMENT ON COLUMN analytics.revenue.occurred_at IS 'Leeloo: payment date, else transaction date, else creation; Text Request: request date (when the payment message was queued).';
COMMENT ON COLUMN analytics.revenue.day IS 'UTC day of occurred_at.';
COMMENT ON COLUMN analytics.revenue.phone_e164 IS 'The customer''s phone in E.164 form (Leeloo: the order''s, else the person''s); NULL when unknown.';
COMMENT ON COLUMN analytics.revenue.conversation_key IS 'The customer''s conversation (analytics.messages.conversation_key with the same platform): Leeloo channel id, Text Request dashboard_id:phone as the payment wrote it.';
COMMENT ON COLUMN analytics.revenue.description IS 'Leeloo offer name or Text Request payment description.';

CREATE VIEW analytics.order_tunnels AS
SELECT o.id AS order_id, s.tunnel_name,
       count(s.tunnel_name) OVER (PARTITION BY o.id) AS tunnels_entered,
       CASE WHEN s.tunnel_name IS NOT NULL THEN 1.0 / count(s.tunnel_name) OVER (PARTITION BY o.id) END AS share,
       v.amount, v.currency, v.status_group, v.occurred_at, v.day
FROM leeloo.orders o
JOIN analytics.revenue v ON v.platform = 'leeloo' AND v.revenue_id = o.id
LEFT JOIN (SELECT DISTINCT account_id, tunnel_name FROM leeloo.account_subscriptions
           WHERE deleted_at IS NULL AND tunnel_name IS NOT NULL) s ON s.account_id = o.account_id
WHERE o.deleted_at IS NULL;
COMMENT ON VIEW analytics.order_tunnels IS 'Leeloo orders by tunnel, as far as the data allows: orders carry no tunnel and subscriptions no dates, so an order is linked to every tunnel its channel (account) ever entered, with share = 1 / tunnels_entered. Sum amount * share per tunnel and currency for a split attribution, or filter tunnels_entered = 1 for orders whose tunnel is certain. tunnel_name NULL: the channel entered no tunnel we know of. See analytics.tunnel_revenue for Leeloo''s own per-tunnel totals.';
COMMENT ON COLUMN analytics.order_tunnels.order_id IS 'Leeloo order id (analytics.revenue.revenue_id).';
COMMENT ON COLUMN analytics.order_tunnels.tunnel_name IS 'A tunnel the ordering channel entered (leeloo.account_subscriptions.tunnel_name, leeloo.tunnels.name); NULL when none is known.';
COMMENT ON COLUMN analytics.order_tunnels.tunnels_entered IS 'How many distinct tunnels that channel entered.';
COMMENT ON COLUMN analytics.order_tunnels.share IS '1 / tunnels_entered: the order''s share attributed to this tunnel; NULL without a tunnel.';
COMMENT ON COLUMN analytics.order_tunnels.amount IS 'Order amount in currency (never add up across currencies).';
COMMENT ON COLUMN analytics.order_tunnels.currency IS 'Currency code in upper case.';
COMMENT ON COLUMN analytics.order_tunnels.status_group IS 'paid, pending, failed, refunded or other.';
COMMENT ON COLUMN analytics.order_tunnels.occurred_at IS 'As analytics.revenue.occurred_at.';
COMMENT ON COLUMN analytics.order_tunnels.day IS 'UTC day of occurred_at.';

CREATE VIEW analytics.tunnel_revenue AS
SELECT DISTINCT ON (s.tunnel_id, r.currency)
       s.tunnel_id, coalesce(t.name, s.tunnel_name) AS tunnel_name, upper(r.currency) AS currency, r.amount AS revenue,
       s.orders_count, s.successful_orders_count, s.subscribers_count, s.captured_at
FROM leeloo.tunnel_stats s
JOIN leeloo.tunnel_stats_revenue r ON r.tunnel_id = s.tunnel_id AND r.captured_at = s.captured_at
LEFT JOIN leeloo.tunnels t ON t.id = s.tunnel_id AND t.deleted_at IS NULL
ORDER BY s.tunnel_id, r.currency, s.captured_at DESC;
COMMENT ON VIEW analytics.tunnel_revenue IS 'Leeloo''s own revenue figures per tunnel and currency, from the latest statistics snapshot: lifetime totals (the API gives no period), one row per currency.';
COMMENT ON COLUMN analytics.tunnel_revenue.tunnel_id IS 'Leeloo tunnel id.';
COMMENT ON COLUMN analytics.tunnel_revenue.tunnel_name IS 'Tunnel name.';
COMMENT ON COLUMN analytics.tunnel_revenue.currency IS 'Currency code in upper case.';
COMMENT ON COLUMN analytics.tunnel_revenue.revenue IS 'Lifetime revenue of the tunnel in that currency.';
COMMENT ON COLUMN analytics.tunnel_revenue.orders_count IS 'Orders attributed to the tunnel (all currencies).';
COMMENT ON COLUMN analytics.tunnel_revenue.successful_orders_count IS 'Successful orders attributed to the tunnel (all currencies).';
COMMENT ON COLUMN analytics.tunnel_revenue.subscribers_count IS 'People ever subscribed to the tunnel.';
COMMENT ON COLUMN analytics.tunnel_revenue.captured_at IS 'When crmsync read these figures.';

CREATE VIEW analytics.contacts AS
SELECT phone_e164,
       array_agg(DISTINCT platform ORDER BY platform) AS platforms,
       bool_or(platform = 'leeloo') AS on_leeloo,
       bool_or(platform = 'textrequest') AS on_textrequest,
       bool_or(platform = 'twin') AS on_twin,
       bool_or(platform = 'calltouch') AS on_calltouch,
       (array_agg(name ORDER BY last_at DESC NULLS LAST) FILTER (WHERE name IS NOT NULL))[1] AS name,
       min(first_at) AS first_contact_at,
       (array_agg(platform ORDER BY first_at) FILTER (WHERE first_at IS NOT NULL))[1] AS first_platform,
       max(last_at) AS last_contact_at,
       count(*) AS records
FROM (
    SELECT 'leeloo'::text AS platform, phone_e164, nullif(name, '') AS name, created_at AS first_at,
           coalesce(last_message_time, created_at) AS last_at
    FROM leeloo.people WHERE deleted_at IS NULL AND phone_e164 IS NOT NULL
    UNION ALL
    SELECT 'leeloo', phone_e164, nullif(name, ''), created_at, coalesce(last_message_time, created_at)
    FROM leeloo.accounts WHERE deleted_at IS NULL AND phone_e164 IS NOT NULL
    UNION ALL
    SELECT 'textrequest', phone_e164,
           coalesce(nullif(display_name, ''), nullif(trim(concat_ws(' ', first_name, last_name)), '')),
           coalesce(first_contact_utc, date_created_utc), coalesce(last_contact_date_utc, first_contact_utc, date_created_utc)
    FROM textrequest.contacts WHERE deleted_at IS NULL AND phone_e164 IS NOT NULL
    UNION ALL
    SELECT 'twin', phone_e164, NULL, first_session_at, last_session_at
    FROM twin.clients WHERE deleted_at IS NULL AND phone_e164 IS NOT NULL
    UNION ALL
    SELECT 'calltouch', phone_e164, NULL, called_at, called_at
    FROM calltouch.calls WHERE deleted_at IS NULL AND phone_e164 IS NOT NULL
    UNION ALL
    SELECT 'calltouch', phone_e164, nullif(client_name, ''), created_at, created_at
    FROM calltouch.requests WHERE deleted_at IS NULL AND phone_e164 IS NOT NULL
) x
GROUP BY phone_e164;
COMMENT ON VIEW analytics.contacts IS 'One row per person known by phone (phone_e164) on any platform: Leeloo people and channels, Text Request contacts, TWIN clients, Calltouch calls and requests. People without a readable phone are not here (they cannot be matched across platforms).';
COMMENT ON COLUMN analytics.contacts.phone_e164 IS 'The phone in E.164 form, the key that joins analytics.messages, analytics.response_times and analytics.revenue.';
COMMENT ON COLUMN analytics.contacts.platforms IS 'Platforms the phone appears on, sorted: calltouch, leeloo, textrequest, twin.';
COMMENT ON COLUMN analytics.contacts.on_leeloo IS 'A Leeloo person or channel has this phone.';
COMMENT ON COLUMN analytics.contacts.on_textrequest IS 'A Text Request contact has this phone.';
COMMENT ON COLUMN analytics.contacts.on_twin IS 'A TWIN client has this phone.';
COMMENT ON COLUMN analytics.contacts.on_calltouch IS 'A Calltouch call or request came from this phone.';
COMMENT ON COLUMN analytics.contacts.name IS 'The name of the most recently active record that has one.';
COMMENT ON COLUMN analytics.contacts.first_contact_at IS 'Earliest first contact on any platform (Leeloo creation, Text Request first contact, TWIN first session, Calltouch call or request).';
COMMENT ON COLUMN analytics.contacts.first_platform IS 'The platform of that first contact.';
COMMENT ON COLUMN analytics.contacts.last_contact_at IS 'Latest contact on any platform (last message, last session, call or request).';
COMMENT ON COLUMN analytics.contacts.records IS 'Records with this phone across platforms (a person with two channels counts twice).';

CREATE VIEW analytics.freshness AS
SELECT l.source, l.stream,
       s.last_success_at,
       now() - s.last_success_at AS since_last_success,
       l.status AS last_status,
       l.started_at AS last_started_at,
       l.finished_at AS last_finished_at,
       l.rows_read AS last_rows_read,
       l.rows_inserted + l.rows_updated AS last_rows_written,
       l.error AS last_error
FROM (SELECT DISTINCT ON (source, stream) * FROM sync.runs ORDER BY source, stream, started_at DESC, id DESC) l
LEFT JOIN (SELECT source, stream, max(finished_at) AS last_success_at
           FROM sync.runs WHERE status = 'succeeded' GROUP BY source, stream) s
       ON s.source = l.source AND s.stream = l.stream;
COMMENT ON VIEW analytics.freshness IS 'One row per stream that has run: when it last succeeded, how long ago, and how its latest run went. Data older than since_last_success may be missing from the other views.';
COMMENT ON COLUMN analytics.freshness.source IS 'Platform of the stream (leeloo, textrequest, twin, calltouch).';
COMMENT ON COLUMN analytics.freshness.stream IS 'Stream name (crmsync streams lists them with their tables).';
COMMENT ON COLUMN analytics.freshness.last_success_at IS 'When the stream last finished successfully; NULL when it never has.';
COMMENT ON COLUMN analytics.freshness.since_last_success IS 'How long ago that was (an interval, at query time).';
COMMENT ON COLUMN analytics.freshness.last_status IS 'Outcome of the latest run: running, succeeded, failed, cancelled or skipped.';
COMMENT ON COLUMN analytics.freshness.last_started_at IS 'When the latest run started.';
COMMENT ON COLUMN analytics.freshness.last_finished_at IS 'When the latest run finished; NULL while running.';
COMMENT ON COLUMN analytics.freshness.last_rows_read IS 'Records the latest run read from the API.';
COMMENT ON COLUMN analytics.freshness.last_rows_written IS 'Rows the latest run inserted or changed.';
COMMENT ON COLUMN analytics.freshness.last_error IS 'Error of the latest run, when it failed.';

-- +goose Down
DROP SCHEMA analytics CASCADE;
DROP INDEX twin.messages_utc_day_idx;
DROP INDEX twin.messages_created_at_idx;
DROP INDEX textrequest.messages_utc_day_idx;
DROP INDEX textrequest.messages_conversation_idx;
DROP INDEX leeloo.messages_utc_day_idx;
DROP INDEX leeloo.messages_channel_created_idx;
