-- +goose Up
-- _row_hash lets the loader skip unchanged rows without sending them: it looks up each
-- batch row's stored hash by primary key and sends only rows whose hash differs (see the
-- package doc of loaders/postgres). It is added to every table of the leeloo and
-- textrequest schemas that crmsync fills (those with synced_at); the loader also works on
-- tables without it (it then compares every row in SQL).
-- +goose StatementBegin
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('leeloo', 'textrequest') AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = 'synced_at' AND NOT a.attisdropped)
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %s ADD COLUMN _row_hash bigint', t);
        EXECUTE format('COMMENT ON COLUMN %s._row_hash IS %L', t,
            'crmsync''s hash of the row as last written; lets unchanged rows be skipped without sending them. '
            'NULL for rows written before it existed. Clear it (set it to NULL) when editing a row by hand, '
            'so that the next sync compares the row and restores what the API says.');
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('leeloo', 'textrequest') AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = '_row_hash' AND NOT a.attisdropped)
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %s DROP COLUMN _row_hash', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
