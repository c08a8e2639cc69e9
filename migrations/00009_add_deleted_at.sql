-- +goose Up
-- Deletions (DESIGN.md): every entity table gets deleted_at, set by crmsync on the rows a
-- complete pass of their stream did not see, cleared when they come back. Rows are never
-- removed. The partial index serves "what was deleted (since when)" and lets the loader
-- find marked rows without reading the live ones.
-- +goose StatementBegin
DO $$
DECLARE
    t regclass;
    rel text;
    never constant text[] := ARRAY['leeloo.messages', 'leeloo.tunnel_stats', 'leeloo.tunnel_stats_revenue', 'textrequest.messages'];
BEGIN
    FOR t, rel IN
        SELECT c.oid::regclass, c.relname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('leeloo', 'textrequest') AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = 'synced_at' AND NOT a.attisdropped)
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %s ADD COLUMN deleted_at timestamptz', t);
        IF t::text = ANY (never) THEN
            EXECUTE format('COMMENT ON COLUMN %s.deleted_at IS %L', t,
                'Always NULL: the stream filling this table never reads a complete list (messages newer than a '
                'watermark, or a snapshot per run), so a record deleted at the source is not noticed and stays as it was.');
            EXECUTE format('COMMENT ON TABLE %s IS %L', t, obj_description(t, 'pg_class') ||
                ' Deletions at the source are not detected (deleted_at stays NULL).');
        ELSE
            EXECUTE format('COMMENT ON COLUMN %s.deleted_at IS %L', t,
                'When crmsync found the record gone from the source: a complete pass of its stream (a full-refresh run '
                'or a full sweep) did not list it (child rows are marked with their parent). NULL while the record is '
                'in the source; cleared when it comes back. Rows are never removed: filter on deleted_at IS NULL for live records.');
            EXECUTE format('CREATE INDEX %I ON %s (deleted_at) WHERE deleted_at IS NOT NULL', rel || '_deleted_at_idx', t);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The keys a pass over a complete list has seen so far: written with each page in the
-- page's transaction, read and emptied by the transaction that completes the list.
CREATE TABLE sync.seen (
    stream     text   NOT NULL,
    table_name text   NOT NULL,
    scope      text   NOT NULL,
    key        text[] NOT NULL,
    PRIMARY KEY (stream, table_name, scope, key)
);
COMMENT ON TABLE sync.seen IS 'Keys that an unfinished pass over a complete list (a full-refresh run or a full sweep, possibly spread over several runs) has seen. When the pass completes, the rows of the list it did not see are marked deleted and its keys are removed.';
COMMENT ON COLUMN sync.seen.stream IS 'The stream making the pass, as source.stream.';
COMMENT ON COLUMN sync.seen.table_name IS 'The table whose list the pass reads, schema-qualified.';
COMMENT ON COLUMN sync.seen.scope IS 'Which part of the table the list covers, e.g. dashboard_id=12; empty for the whole table.';
COMMENT ON COLUMN sync.seen.key IS 'The primary key of a row the pass has seen, as text, in key column order.';

ALTER TABLE sync.runs
    ADD COLUMN passes_completed    integer NOT NULL DEFAULT 0,
    ADD COLUMN rows_marked_deleted bigint  NOT NULL DEFAULT 0,
    ADD COLUMN rows_restored       bigint  NOT NULL DEFAULT 0,
    ADD COLUMN deletions_held      text;
COMMENT ON COLUMN sync.runs.passes_completed IS 'Passes over a complete list (a table, or one dashboard''s part of it) that the run completed; each may mark rows deleted.';
COMMENT ON COLUMN sync.runs.rows_marked_deleted IS 'Rows that a completed pass did not see and marked deleted (deleted_at set), child rows included.';
COMMENT ON COLUMN sync.runs.rows_restored IS 'Rows marked deleted that the source listed again (deleted_at cleared).';
COMMENT ON COLUMN sync.runs.deletions_held IS 'Why the delete guard (CRMSYNC_DELETE_GUARD) marked nothing for a completed pass: the table, the rows it would have marked and the live rows. Empty when nothing was held.';

-- +goose Down
ALTER TABLE sync.runs
    DROP COLUMN passes_completed,
    DROP COLUMN rows_marked_deleted,
    DROP COLUMN rows_restored,
    DROP COLUMN deletions_held;
DROP TABLE sync.seen;
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
                      WHERE a.attrelid = c.oid AND a.attname = 'deleted_at' AND NOT a.attisdropped)
        ORDER BY 1
    LOOP
        EXECUTE format('ALTER TABLE %s DROP COLUMN deleted_at', t); -- drops its index too
        EXECUTE format('COMMENT ON TABLE %s IS %L', t, replace(obj_description(t, 'pg_class'),
            ' Deletions at the source are not detected (deleted_at stays NULL).', ''));
    END LOOP;
END
$$;
-- +goose StatementEnd
