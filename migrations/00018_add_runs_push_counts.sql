-- +goose Up
-- A push run is a sync.runs row with source 'push' and the push's name as stream; these
-- columns hold what it did with the query's rows (rows_read counts the rows the query
-- returned). Stream runs leave them at 0.
ALTER TABLE sync.runs
    ADD COLUMN rows_sent      bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_failed    bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_unmatched bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_unknown   bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN sync.runs.rows_sent IS 'Pushes only (source push): rows the API applied in this run.';
COMMENT ON COLUMN sync.runs.rows_failed IS 'Pushes only: rows that failed in this run (a bad row, or the API refused it); see sync.pushes.last_error.';
COMMENT ON COLUMN sync.runs.rows_unmatched IS 'Pushes only: Calltouch comments whose lead the API did not find in this run.';
COMMENT ON COLUMN sync.runs.rows_unknown IS 'Pushes only: rows whose request went out but whose outcome was lost (sent again only by crmsync push with the retry-unknown flag).';

-- +goose Down
ALTER TABLE sync.runs
    DROP COLUMN rows_sent,
    DROP COLUMN rows_failed,
    DROP COLUMN rows_unmatched,
    DROP COLUMN rows_unknown;
