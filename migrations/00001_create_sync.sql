-- +goose Up
-- The sync schema holds crmsync's own bookkeeping: the checkpoint of every stream, the
-- history of runs, and the records that could not be loaded.
CREATE SCHEMA sync;
COMMENT ON SCHEMA sync IS 'crmsync bookkeeping: stream checkpoints, run history and rejected records.';

CREATE TABLE sync.state (
    source     text        NOT NULL,
    stream     text        NOT NULL,
    partition  text        NOT NULL DEFAULT '',
    cursor     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, stream, partition)
);
COMMENT ON TABLE sync.state IS 'Where each stream (and each partition of a partitioned stream) stopped reading: the next run resumes from this cursor. Written in the same transaction as the rows it covers.';
COMMENT ON COLUMN sync.state.source IS 'Platform the stream reads from, e.g. leeloo or textrequest.';
COMMENT ON COLUMN sync.state.stream IS 'Stream name within the source, e.g. people or messages.';
COMMENT ON COLUMN sync.state.partition IS 'Partition of the stream (a dashboard or channel id); empty for streams with a single cursor.';
COMMENT ON COLUMN sync.state.cursor IS 'The checkpoint reached, as JSON; its shape is specific to the stream (a timestamp, an offset, a page).';
COMMENT ON COLUMN sync.state.updated_at IS 'When this cursor was last written.';

CREATE TABLE sync.runs (
    id             bigserial   PRIMARY KEY,
    source         text        NOT NULL,
    stream         text        NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    status         text        NOT NULL DEFAULT 'running',
    requests       bigint      NOT NULL DEFAULT 0,
    rows_read      bigint      NOT NULL DEFAULT 0,
    rows_inserted  bigint      NOT NULL DEFAULT 0,
    rows_updated   bigint      NOT NULL DEFAULT 0,
    rows_unchanged bigint      NOT NULL DEFAULT 0,
    rows_deleted   bigint      NOT NULL DEFAULT 0,
    rows_rejected  bigint      NOT NULL DEFAULT 0,
    nuls_cleaned   bigint      NOT NULL DEFAULT 0,
    error          text
);
CREATE INDEX runs_source_stream_started_at_idx ON sync.runs (source, stream, started_at DESC);
COMMENT ON TABLE sync.runs IS 'One row per run of one stream: when it ran, how it ended and what it did to the tables.';
COMMENT ON COLUMN sync.runs.id IS 'Run number, increasing.';
COMMENT ON COLUMN sync.runs.source IS 'Platform the stream reads from, e.g. leeloo or textrequest.';
COMMENT ON COLUMN sync.runs.stream IS 'Stream name within the source.';
COMMENT ON COLUMN sync.runs.started_at IS 'When the run started.';
COMMENT ON COLUMN sync.runs.finished_at IS 'When the run ended; empty while it is running or if the process died.';
COMMENT ON COLUMN sync.runs.status IS 'Outcome: running, succeeded, failed, cancelled (stopped after committing every complete batch) or skipped (another process was running the stream).';
COMMENT ON COLUMN sync.runs.requests IS 'API requests made, retries included.';
COMMENT ON COLUMN sync.runs.rows_read IS 'Records received from the API.';
COMMENT ON COLUMN sync.runs.rows_inserted IS 'Rows added to the warehouse tables.';
COMMENT ON COLUMN sync.runs.rows_updated IS 'Existing rows whose values changed and were rewritten.';
COMMENT ON COLUMN sync.runs.rows_unchanged IS 'Rows received again with identical values; left untouched.';
COMMENT ON COLUMN sync.runs.rows_deleted IS 'Child rows removed because their parent record no longer lists them.';
COMMENT ON COLUMN sync.runs.rows_rejected IS 'Records that could not be loaded; see sync.rejects.';
COMMENT ON COLUMN sync.runs.nuls_cleaned IS 'Values from which NUL characters were removed (PostgreSQL cannot store them in text).';
COMMENT ON COLUMN sync.runs.error IS 'Why the run failed; empty on success.';

CREATE TABLE sync.rejects (
    id           bigserial   PRIMARY KEY,
    run_id       bigint      REFERENCES sync.runs (id) ON DELETE SET NULL,
    source       text        NOT NULL,
    stream       text        NOT NULL,
    table_name   text        NOT NULL DEFAULT '',
    reason       text        NOT NULL,
    payload      text,
    payload_json jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_run_id_idx ON sync.rejects (run_id);
COMMENT ON TABLE sync.rejects IS 'Records an API sent that could not be loaded (broken JSON, a value out of range for its column). The rest of their batch was loaded.';
COMMENT ON COLUMN sync.rejects.id IS 'Reject number, increasing.';
COMMENT ON COLUMN sync.rejects.run_id IS 'The run that received the record (sync.runs.id).';
COMMENT ON COLUMN sync.rejects.source IS 'Platform the record came from.';
COMMENT ON COLUMN sync.rejects.stream IS 'Stream that read the record.';
COMMENT ON COLUMN sync.rejects.table_name IS 'Table the record was meant for; empty when unknown.';
COMMENT ON COLUMN sync.rejects.reason IS 'What is wrong with the record, naming the field.';
COMMENT ON COLUMN sync.rejects.payload IS 'The record as received (may be invalid JSON; NUL characters removed).';
COMMENT ON COLUMN sync.rejects.payload_json IS 'The same record as JSON, when it is valid JSON.';
COMMENT ON COLUMN sync.rejects.created_at IS 'When the record was rejected.';

-- +goose Down
DROP TABLE sync.rejects;
DROP TABLE sync.runs;
DROP TABLE sync.state;
DROP SCHEMA sync;
