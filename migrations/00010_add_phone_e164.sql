-- +goose Up
-- phone_e164 is libphonenumber's E.164 form of a contact's phone ("+15551234567"): the
-- one column that joins a person across tables and platforms however each source wrote
-- the number (phone_digits keeps or drops a country code as the source did). The
-- extractors fill it on load; 00011 back-fills the rows already here. Link tables
-- (contact_tags, contact_groups, contact_custom_fields) carry the phone only as part of
-- their contact's key and join to textrequest.contacts instead.
ALTER TABLE leeloo.people ADD COLUMN phone_e164 text;
ALTER TABLE leeloo.orders ADD COLUMN phone_e164 text;
ALTER TABLE leeloo.accounts ADD COLUMN phone_e164 text;
ALTER TABLE textrequest.contacts ADD COLUMN phone_e164 text;
ALTER TABLE textrequest.conversations ADD COLUMN phone_e164 text;
ALTER TABLE textrequest.messages ADD COLUMN phone_e164 text;
ALTER TABLE textrequest.payments ADD COLUMN phone_e164 text;

CREATE INDEX people_phone_e164_idx ON leeloo.people (phone_e164);
CREATE INDEX orders_phone_e164_idx ON leeloo.orders (phone_e164);
CREATE INDEX accounts_phone_e164_idx ON leeloo.accounts (phone_e164);
CREATE INDEX contacts_phone_e164_idx ON textrequest.contacts (phone_e164);
CREATE INDEX conversations_phone_e164_idx ON textrequest.conversations (phone_e164);
CREATE INDEX messages_phone_e164_idx ON textrequest.messages (phone_e164);
CREATE INDEX payments_phone_e164_idx ON textrequest.payments (phone_e164);

COMMENT ON COLUMN leeloo.people.phone_e164 IS 'The phone in E.164 form (+ country code and number, e.g. +79991234567), for joining people across platforms; NULL when it cannot be read (NOT_DEFINED, or no country code: CRMSYNC_PHONE_REGION sets the region assumed, none by default for Leeloo).';
COMMENT ON COLUMN leeloo.orders.phone_e164 IS 'The order phone in E.164 form (e.g. +79991234567); NULL when it cannot be read (see leeloo.people.phone_e164).';
COMMENT ON COLUMN leeloo.accounts.phone_e164 IS 'The account phone in E.164 form (e.g. +79991234567); NULL when it cannot be read (see leeloo.people.phone_e164).';
COMMENT ON COLUMN textrequest.contacts.phone_e164 IS 'Contact phone in E.164 form (e.g. +15551234567), for joining people across platforms; numbers without a country code are read as US (CRMSYNC_PHONE_REGION); NULL when it cannot be read.';
COMMENT ON COLUMN textrequest.conversations.phone_e164 IS 'Contact phone in E.164 form (see textrequest.contacts.phone_e164).';
COMMENT ON COLUMN textrequest.messages.phone_e164 IS 'Contact phone in E.164 form (see textrequest.contacts.phone_e164).';
COMMENT ON COLUMN textrequest.payments.phone_e164 IS 'Phone the payment was sent to, in E.164 form (see textrequest.contacts.phone_e164).';

-- +goose Down
-- Dropping a column drops its index.
ALTER TABLE textrequest.payments DROP COLUMN phone_e164;
ALTER TABLE textrequest.messages DROP COLUMN phone_e164;
ALTER TABLE textrequest.conversations DROP COLUMN phone_e164;
ALTER TABLE textrequest.contacts DROP COLUMN phone_e164;
ALTER TABLE leeloo.accounts DROP COLUMN phone_e164;
ALTER TABLE leeloo.orders DROP COLUMN phone_e164;
ALTER TABLE leeloo.people DROP COLUMN phone_e164;
