-- Text Request (REST API v3) warehouse tables, filled by extractors/textrequest.
-- Every entity table has its natural key, typed columns for every field the API reference
-- documents, raw (the object exactly as the API sent it) and synced_at (set by the loader
-- when a row is inserted or changed). Phones are kept as returned plus a digits-only copy.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS textrequest;
COMMENT ON SCHEMA textrequest IS 'Text Request (business SMS) data, synced by crmsync from the REST API v3.';

CREATE TABLE textrequest.dashboards (
    id           bigint PRIMARY KEY,
    name         text,
    phone        text,
    phone_digits text,
    raw          jsonb NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE textrequest.dashboards IS 'Text Request dashboards: one texting phone line each; every other Text Request table belongs to a dashboard.';
COMMENT ON COLUMN textrequest.dashboards.id IS 'Dashboard id (numerical id from the API).';
COMMENT ON COLUMN textrequest.dashboards.name IS 'Dashboard name.';
COMMENT ON COLUMN textrequest.dashboards.phone IS 'The dashboard''s texting phone number, as the API returned it.';
COMMENT ON COLUMN textrequest.dashboards.phone_digits IS 'The dashboard''s phone number, digits only (for joins).';
COMMENT ON COLUMN textrequest.dashboards.raw IS 'The dashboard object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.dashboards.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.contacts (
    dashboard_id                      bigint NOT NULL,
    phone_number                      text NOT NULL,
    phone_digits                      text,
    first_name                        text,
    last_name                         text,
    display_name                      text,
    is_suppressed                     boolean,
    suppressed_reason                 text,
    is_archived                       boolean,
    is_blocked                        boolean,
    is_resolved                       boolean,
    note                              text,
    groups                            bigint[],
    contact_tags                      text[],
    first_contact_utc                 timestamptz,
    opted_out_utc                     timestamptz,
    last_msg_sent_utc                 timestamptz,
    last_msg_received_utc             timestamptz,
    total_msgs_sent                   integer,
    total_msgs_received               integer,
    response_count                    integer,
    date_created_utc                  timestamptz,
    last_contact_date_utc             timestamptz,
    thread_id                         text,
    last_message_id                   text,
    last_message_body                 text,
    last_message_direction            text,
    last_message_response_by_username text,
    last_message_timestamp_utc        timestamptz,
    last_message_delivery_status      text,
    last_message_delivery_error       text,
    last_message_mms_media            text[],
    raw                               jsonb NOT NULL,
    synced_at                         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, phone_number)
);
CREATE INDEX contacts_phone_digits_idx ON textrequest.contacts (phone_digits);
CREATE INDEX contacts_last_contact_date_idx ON textrequest.contacts (last_contact_date_utc);
CREATE INDEX contacts_date_created_idx ON textrequest.contacts (date_created_utc);
COMMENT ON TABLE textrequest.contacts IS 'Text Request contacts, one per phone number per dashboard.';
COMMENT ON COLUMN textrequest.contacts.dashboard_id IS 'Dashboard the contact belongs to (textrequest.dashboards.id).';
COMMENT ON COLUMN textrequest.contacts.phone_number IS 'Contact phone number exactly as the API returned it.';
COMMENT ON COLUMN textrequest.contacts.phone_digits IS 'Contact phone number, digits only (for joins across tables and sources).';
COMMENT ON COLUMN textrequest.contacts.first_name IS 'First name (may be empty).';
COMMENT ON COLUMN textrequest.contacts.last_name IS 'Last name (may be empty).';
COMMENT ON COLUMN textrequest.contacts.display_name IS 'Full name shown in the Text Request web app.';
COMMENT ON COLUMN textrequest.contacts.is_suppressed IS 'Suppressed: the contact is not pushed to the top of the queue.';
COMMENT ON COLUMN textrequest.contacts.suppressed_reason IS 'Why the contact is suppressed; empty when it is not.';
COMMENT ON COLUMN textrequest.contacts.is_archived IS 'Archived: hidden from conversation lists by default.';
COMMENT ON COLUMN textrequest.contacts.is_blocked IS 'Blocked: messages from this contact are not received or stored.';
COMMENT ON COLUMN textrequest.contacts.is_resolved IS 'Conversation marked resolved; a new inbound text sets it back to false.';
COMMENT ON COLUMN textrequest.contacts.note IS 'Internal note about the contact.';
COMMENT ON COLUMN textrequest.contacts.groups IS 'Ids of the groups the contact is in (see textrequest.contact_groups).';
COMMENT ON COLUMN textrequest.contacts.contact_tags IS 'Tag ids (GUIDs) on the contact (see textrequest.contact_tags).';
COMMENT ON COLUMN textrequest.contacts.first_contact_utc IS 'When the first message was sent to the contact.';
COMMENT ON COLUMN textrequest.contacts.opted_out_utc IS 'When the contact opted out of texts; empty if they have not.';
COMMENT ON COLUMN textrequest.contacts.last_msg_sent_utc IS 'Last message sent to the contact.';
COMMENT ON COLUMN textrequest.contacts.last_msg_received_utc IS 'Last message received from the contact.';
COMMENT ON COLUMN textrequest.contacts.total_msgs_sent IS 'Number of messages sent to the contact.';
COMMENT ON COLUMN textrequest.contacts.total_msgs_received IS 'Number of messages received from the contact.';
COMMENT ON COLUMN textrequest.contacts.response_count IS 'Number of responses from the contact.';
COMMENT ON COLUMN textrequest.contacts.date_created_utc IS 'When the contact was created.';
COMMENT ON COLUMN textrequest.contacts.last_contact_date_utc IS 'Last message in either direction (drives incremental syncs).';
COMMENT ON COLUMN textrequest.contacts.thread_id IS 'Thread id (sent by some API versions only).';
COMMENT ON COLUMN textrequest.contacts.last_message_id IS 'Id of the last message with the contact.';
COMMENT ON COLUMN textrequest.contacts.last_message_body IS 'Text of the last message with the contact.';
COMMENT ON COLUMN textrequest.contacts.last_message_direction IS 'Direction of the last message: R received from the contact, S sent to the contact.';
COMMENT ON COLUMN textrequest.contacts.last_message_response_by_username IS 'Text Request user who sent the last message (empty for inbound).';
COMMENT ON COLUMN textrequest.contacts.last_message_timestamp_utc IS 'When the last message was sent or received.';
COMMENT ON COLUMN textrequest.contacts.last_message_delivery_status IS 'Delivery status of the last message (sending, delivered, error, ...).';
COMMENT ON COLUMN textrequest.contacts.last_message_delivery_error IS 'Delivery error of the last message, when its status is error.';
COMMENT ON COLUMN textrequest.contacts.last_message_mms_media IS 'Attachment URLs of the last message.';
COMMENT ON COLUMN textrequest.contacts.raw IS 'The contact object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.contacts.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.contact_tags (
    dashboard_id bigint NOT NULL,
    phone_number text NOT NULL,
    tag_id       text NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, phone_number, tag_id)
);
CREATE INDEX contact_tags_tag_idx ON textrequest.contact_tags (dashboard_id, tag_id);
COMMENT ON TABLE textrequest.contact_tags IS 'Tags on each contact (from the contact''s contact_tags list); replaced whenever the contact is synced.';
COMMENT ON COLUMN textrequest.contact_tags.dashboard_id IS 'Dashboard of the contact.';
COMMENT ON COLUMN textrequest.contact_tags.phone_number IS 'Contact phone number as returned (textrequest.contacts.phone_number).';
COMMENT ON COLUMN textrequest.contact_tags.tag_id IS 'Tag id (GUID, textrequest.tags.id).';
COMMENT ON COLUMN textrequest.contact_tags.synced_at IS 'When crmsync inserted this row.';

CREATE TABLE textrequest.contact_groups (
    dashboard_id bigint NOT NULL,
    phone_number text NOT NULL,
    group_id     bigint NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, phone_number, group_id)
);
CREATE INDEX contact_groups_group_idx ON textrequest.contact_groups (dashboard_id, group_id);
COMMENT ON TABLE textrequest.contact_groups IS 'Group membership of each contact (from the contact''s groups list); replaced whenever the contact is synced.';
COMMENT ON COLUMN textrequest.contact_groups.dashboard_id IS 'Dashboard of the contact.';
COMMENT ON COLUMN textrequest.contact_groups.phone_number IS 'Contact phone number as returned (textrequest.contacts.phone_number).';
COMMENT ON COLUMN textrequest.contact_groups.group_id IS 'Group id (textrequest.groups.id).';
COMMENT ON COLUMN textrequest.contact_groups.synced_at IS 'When crmsync inserted this row.';

CREATE TABLE textrequest.contact_custom_fields (
    dashboard_id bigint NOT NULL,
    phone_number text NOT NULL,
    field_id     text NOT NULL,
    value        text,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, phone_number, field_id)
);
CREATE INDEX contact_custom_fields_field_idx ON textrequest.contact_custom_fields (dashboard_id, field_id);
COMMENT ON TABLE textrequest.contact_custom_fields IS 'Custom-field values of each contact (from the contact''s custom_fields list); replaced whenever the contact is synced.';
COMMENT ON COLUMN textrequest.contact_custom_fields.dashboard_id IS 'Dashboard of the contact.';
COMMENT ON COLUMN textrequest.contact_custom_fields.phone_number IS 'Contact phone number as returned (textrequest.contacts.phone_number).';
COMMENT ON COLUMN textrequest.contact_custom_fields.field_id IS 'Custom field id (GUID, textrequest.custom_fields.id).';
COMMENT ON COLUMN textrequest.contact_custom_fields.value IS 'The contact''s value for the field.';
COMMENT ON COLUMN textrequest.contact_custom_fields.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.conversations (
    dashboard_id                      bigint NOT NULL,
    phone_number                      text NOT NULL,
    phone_digits                      text,
    last_message_id                   text,
    last_message_body                 text,
    last_message_direction            text,
    last_message_response_by_username text,
    last_message_timestamp_utc        timestamptz,
    last_message_delivery_status      text,
    last_message_delivery_error       text,
    last_message_mms_media            text[],
    raw                               jsonb NOT NULL,
    synced_at                         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, phone_number)
);
CREATE INDEX conversations_phone_digits_idx ON textrequest.conversations (phone_digits);
CREATE INDEX conversations_last_message_ts_idx ON textrequest.conversations (last_message_timestamp_utc);
COMMENT ON TABLE textrequest.conversations IS 'Text Request conversations (archived ones included), one per contact phone per dashboard, with the latest message.';
COMMENT ON COLUMN textrequest.conversations.dashboard_id IS 'Dashboard of the conversation.';
COMMENT ON COLUMN textrequest.conversations.phone_number IS 'Contact phone number as the API returned it.';
COMMENT ON COLUMN textrequest.conversations.phone_digits IS 'Contact phone number, digits only.';
COMMENT ON COLUMN textrequest.conversations.last_message_id IS 'Id of the latest message.';
COMMENT ON COLUMN textrequest.conversations.last_message_body IS 'Text of the latest message.';
COMMENT ON COLUMN textrequest.conversations.last_message_direction IS 'Direction of the latest message: R received from the contact, S sent to the contact.';
COMMENT ON COLUMN textrequest.conversations.last_message_response_by_username IS 'Text Request user who sent the latest message (empty for inbound).';
COMMENT ON COLUMN textrequest.conversations.last_message_timestamp_utc IS 'When the latest message was sent or received.';
COMMENT ON COLUMN textrequest.conversations.last_message_delivery_status IS 'Delivery status of the latest message.';
COMMENT ON COLUMN textrequest.conversations.last_message_delivery_error IS 'Delivery error of the latest message, when its status is error.';
COMMENT ON COLUMN textrequest.conversations.last_message_mms_media IS 'Attachment URLs of the latest message.';
COMMENT ON COLUMN textrequest.conversations.raw IS 'The conversation object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.conversations.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.messages (
    message_id           text PRIMARY KEY,
    message_id_derived   boolean NOT NULL,
    dashboard_id         bigint NOT NULL,
    phone_number         text NOT NULL,
    phone_digits         text,
    body                 text,
    message_direction    text,
    response_by_username text,
    message_timestamp_utc timestamptz,
    delivery_status      text,
    delivery_error       text,
    mms_media            text[],
    raw                  jsonb NOT NULL,
    synced_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_contact_idx ON textrequest.messages (dashboard_id, phone_number);
CREATE INDEX messages_phone_digits_idx ON textrequest.messages (phone_digits);
CREATE INDEX messages_timestamp_idx ON textrequest.messages (message_timestamp_utc);
COMMENT ON TABLE textrequest.messages IS 'Text Request messages (SMS/MMS) between a dashboard and a contact.';
COMMENT ON COLUMN textrequest.messages.message_id IS 'Message id from the API; when the API sent none, a stable derived key: sha256: + hex SHA-256 of dashboard id, phone digits, timestamp as sent, direction and body.';
COMMENT ON COLUMN textrequest.messages.message_id_derived IS 'True when message_id was derived by crmsync because the API sent an empty id.';
COMMENT ON COLUMN textrequest.messages.dashboard_id IS 'Dashboard of the conversation.';
COMMENT ON COLUMN textrequest.messages.phone_number IS 'Contact phone number as the contacts list returned it.';
COMMENT ON COLUMN textrequest.messages.phone_digits IS 'Contact phone number, digits only.';
COMMENT ON COLUMN textrequest.messages.body IS 'Message text.';
COMMENT ON COLUMN textrequest.messages.message_direction IS 'R = received from the contact, S = sent to the contact.';
COMMENT ON COLUMN textrequest.messages.response_by_username IS 'Text Request user who sent the message (empty for inbound).';
COMMENT ON COLUMN textrequest.messages.message_timestamp_utc IS 'When Text Request sent or received the message.';
COMMENT ON COLUMN textrequest.messages.delivery_status IS 'Delivery status (accepted, queued, sending, sent, delivered, error, failed, undelivered, ...).';
COMMENT ON COLUMN textrequest.messages.delivery_error IS 'Delivery error text, when the status is error.';
COMMENT ON COLUMN textrequest.messages.mms_media IS 'Attachment URLs generated by Text Request.';
COMMENT ON COLUMN textrequest.messages.raw IS 'The message object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.messages.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.payments (
    payment_id                 bigint PRIMARY KEY,
    dashboard_id               bigint NOT NULL,
    request_date               timestamptz,
    recipient                  text,
    description                text,
    customer_phone             text,
    customer_phone_digits      text,
    amount_requested           numeric(12,2),
    is_past_due                boolean,
    reminder_was_sent          boolean,
    transaction_status         text,
    textrequest_payment_status text,
    reference_number           text,
    raw                        jsonb NOT NULL,
    synced_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_dashboard_idx ON textrequest.payments (dashboard_id);
CREATE INDEX payments_request_date_idx ON textrequest.payments (request_date);
CREATE INDEX payments_customer_phone_digits_idx ON textrequest.payments (customer_phone_digits);
COMMENT ON TABLE textrequest.payments IS 'Text Request payment requests sent to contacts (paid, cancelled and open ones).';
COMMENT ON COLUMN textrequest.payments.payment_id IS 'Payment id.';
COMMENT ON COLUMN textrequest.payments.dashboard_id IS 'Dashboard the payment was sent from.';
COMMENT ON COLUMN textrequest.payments.request_date IS 'When the payment''s first message was queued for sending.';
COMMENT ON COLUMN textrequest.payments.recipient IS 'Contact name; empty when the contact has no name.';
COMMENT ON COLUMN textrequest.payments.description IS 'Internal description, never shown to the contact.';
COMMENT ON COLUMN textrequest.payments.customer_phone IS 'Phone number the payment was sent to, as returned.';
COMMENT ON COLUMN textrequest.payments.customer_phone_digits IS 'Phone number the payment was sent to, digits only.';
COMMENT ON COLUMN textrequest.payments.amount_requested IS 'Amount requested in US dollars.';
COMMENT ON COLUMN textrequest.payments.is_past_due IS 'Past the request date without being paid.';
COMMENT ON COLUMN textrequest.payments.reminder_was_sent IS 'Whether the (single) reminder was sent.';
COMMENT ON COLUMN textrequest.payments.transaction_status IS 'Status at the payment processor (Unknown, Approved, Declined, ...).';
COMMENT ON COLUMN textrequest.payments.textrequest_payment_status IS 'Status shown in the Text Request app (Sent, Paid, Cancelled, PastDue, ...).';
COMMENT ON COLUMN textrequest.payments.reference_number IS 'User-defined reference; not unique.';
COMMENT ON COLUMN textrequest.payments.raw IS 'The payment object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.payments.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.groups (
    dashboard_id          bigint NOT NULL,
    id                    bigint NOT NULL,
    name                  text,
    notes                 text,
    group_member_count    integer,
    is_keyword            boolean,
    last_message_sent_utc timestamptz,
    raw                   jsonb NOT NULL,
    synced_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, id)
);
COMMENT ON TABLE textrequest.groups IS 'Contact groups of each dashboard.';
COMMENT ON COLUMN textrequest.groups.dashboard_id IS 'Dashboard the group was read from.';
COMMENT ON COLUMN textrequest.groups.id IS 'Group id.';
COMMENT ON COLUMN textrequest.groups.name IS 'Group name.';
COMMENT ON COLUMN textrequest.groups.notes IS 'Notes on the group.';
COMMENT ON COLUMN textrequest.groups.group_member_count IS 'Number of contacts in the group.';
COMMENT ON COLUMN textrequest.groups.is_keyword IS 'Created automatically for a keyword; people who text the keyword join it.';
COMMENT ON COLUMN textrequest.groups.last_message_sent_utc IS 'When the last group message was sent.';
COMMENT ON COLUMN textrequest.groups.raw IS 'The group object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.groups.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.tags (
    dashboard_id bigint NOT NULL,
    id           text NOT NULL,
    tag          text,
    tag_color    text,
    raw          jsonb NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, id)
);
COMMENT ON TABLE textrequest.tags IS 'Contact tags of each dashboard (each dashboard has its own tag set).';
COMMENT ON COLUMN textrequest.tags.dashboard_id IS 'Dashboard the tag belongs to.';
COMMENT ON COLUMN textrequest.tags.id IS 'Tag id (a GUID; contacts refer to tags by it).';
COMMENT ON COLUMN textrequest.tags.tag IS 'Tag name.';
COMMENT ON COLUMN textrequest.tags.tag_color IS 'Tag colour as a hex code.';
COMMENT ON COLUMN textrequest.tags.raw IS 'The tag object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.tags.synced_at IS 'When crmsync last inserted or changed this row.';

CREATE TABLE textrequest.custom_fields (
    dashboard_id bigint NOT NULL,
    id           text NOT NULL,
    name         text,
    raw          jsonb NOT NULL,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dashboard_id, id)
);
COMMENT ON TABLE textrequest.custom_fields IS 'Custom contact fields defined on each dashboard.';
COMMENT ON COLUMN textrequest.custom_fields.dashboard_id IS 'Dashboard the field belongs to.';
COMMENT ON COLUMN textrequest.custom_fields.id IS 'Custom field id (a GUID; contacts refer to fields by it).';
COMMENT ON COLUMN textrequest.custom_fields.name IS 'Field name.';
COMMENT ON COLUMN textrequest.custom_fields.raw IS 'The custom field object exactly as the API sent it.';
COMMENT ON COLUMN textrequest.custom_fields.synced_at IS 'When crmsync last inserted or changed this row.';

-- +goose Down
DROP SCHEMA IF EXISTS textrequest CASCADE;
