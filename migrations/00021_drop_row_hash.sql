-- +goose Up
-- The loader no longer keeps a hash of each row: it stages every batch and compares the
-- values in SQL (see the package doc of loaders/postgres), which costs little next to
-- what the APIs deliver. The _row_hash columns of 00004 and 00007 go with it.
-- +goose StatementBegin
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('leeloo', 'textrequest', 'calltouch') AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = '_row_hash' AND NOT a.attisdropped)
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %s DROP COLUMN _row_hash', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The columns as 00004 (every leeloo and textrequest table with synced_at) and 00007
-- (calltouch.calls and calltouch.requests) made them; the rows' hashes are NULL.
-- +goose StatementBegin
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE ((n.nspname IN ('leeloo', 'textrequest') AND c.relkind IN ('r', 'p')
                AND EXISTS (SELECT FROM pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = 'synced_at' AND NOT a.attisdropped))
               OR c.oid IN ('calltouch.calls'::regclass, 'calltouch.requests'::regclass))
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %s ADD COLUMN _row_hash bigint', t);
        EXECUTE format('COMMENT ON COLUMN %s._row_hash IS %L', t,
            'crmsync''s hash of the row as last written; lets unchanged rows be skipped without sending them. '
            'Clear it (set it to NULL) when editing a row by hand.');
    END LOOP;
END
$$;
-- +goose StatementEnd
