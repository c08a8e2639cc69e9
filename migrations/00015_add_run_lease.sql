-- +goose Up
-- A running run holds its stream by a lease in its own sync.runs row, renewed by a
-- heartbeat and checked inside every transaction that writes for it (see the package
-- doc of internal/checkpoint): it survives idle_session_timeout and terminated
-- connections, and a run whose process died is found and closed as abandoned.
ALTER TABLE sync.runs ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE sync.runs ADD COLUMN lease_until timestamptz;
ALTER TABLE sync.runs ADD COLUMN holder text;
CREATE INDEX runs_running_idx ON sync.runs (source, stream) WHERE status = 'running';
COMMENT ON COLUMN sync.runs.heartbeat_at IS 'When the process running this run last said it was alive; empty for runs recorded before heartbeats existed.';
COMMENT ON COLUMN sync.runs.lease_until IS 'Until when this running run holds its stream: renewed with each heartbeat; past it, the next run of the stream closes this one as abandoned and takes over.';
COMMENT ON COLUMN sync.runs.holder IS 'The process that ran it: host name, process id and a random token of the run''s start.';
COMMENT ON COLUMN sync.runs.status IS 'Outcome: running, succeeded, failed, cancelled (stopped after committing every complete batch), skipped (another process was running the stream) or abandoned (its process died: closed by a later run of the stream once its lease had expired).';

-- +goose Down
COMMENT ON COLUMN sync.runs.status IS 'Outcome: running, succeeded, failed, cancelled (stopped after committing every complete batch) or skipped (another process was running the stream).';
DROP INDEX sync.runs_running_idx;
ALTER TABLE sync.runs DROP COLUMN holder;
ALTER TABLE sync.runs DROP COLUMN lease_until;
ALTER TABLE sync.runs DROP COLUMN heartbeat_at;
