-- +goose Up
-- sync.pushes is the ledger of pushes (warehouse rows sent back to an API, see DESIGN.md
-- "Pushes"): one row per key a push has handled, with the hash of what was last sent and
-- how it ended. A Calltouch comment row is committed as 'sending' before its request, so a
-- process that dies mid-request leaves a trace, and the next run marks it 'unknown' instead
-- of sending the comment a second time.
CREATE TABLE sync.pushes (
    push         text        NOT NULL,
    key          text        NOT NULL,
    destination  text        NOT NULL,
    payload_hash text        NOT NULL,
    payload      jsonb,
    status       text        NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    result       jsonb,
    run_id       bigint      REFERENCES sync.runs (id) ON DELETE SET NULL,
    sent_at      timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (push, key),
    CONSTRAINT pushes_status_check CHECK (status IN ('sent', 'failed', 'unmatched', 'sending', 'unknown'))
);
CREATE INDEX pushes_push_status_idx ON sync.pushes (push, status);
COMMENT ON TABLE sync.pushes IS 'Every row a push (schedules.yaml, pushes:) has handled, keyed by the push and the row''s key: what was last sent and how it ended. A row is sent again only when its payload changes, or after failed/unmatched (up to max_attempts); unknown rows are sent again only when crmsync push is given the retry-unknown flag.';
COMMENT ON COLUMN sync.pushes.push IS 'Name of the push in schedules.yaml.';
COMMENT ON COLUMN sync.pushes.key IS 'The row''s key: the query''s key column (Calltouch comments) or client_id/attribute (TWIN attributes).';
COMMENT ON COLUMN sync.pushes.destination IS 'Where the push sends: calltouch-lead-comments or twin-client-attributes.';
COMMENT ON COLUMN sync.pushes.payload_hash IS 'SHA-256 (hex) of the payload last attempted; a row whose query result hashes differently is sent again.';
COMMENT ON COLUMN sync.pushes.payload IS 'The payload last attempted, as JSON (the query''s columns other than the key).';
COMMENT ON COLUMN sync.pushes.status IS 'sent (the API applied it), failed (rejected or not sent; retried up to max_attempts), unmatched (Calltouch found no lead; retried up to max_attempts), sending (request in flight; a later run finding it makes it unknown), unknown (the request went out but its outcome was lost; never sent again without the retry-unknown flag of crmsync push).';
COMMENT ON COLUMN sync.pushes.attempts IS 'Tries of the current payload (reset when the payload changes); failed and unmatched rows are given up at the push''s max_attempts.';
COMMENT ON COLUMN sync.pushes.last_error IS 'Why the last try did not succeed, naming the column or the API''s answer; empty when sent.';
COMMENT ON COLUMN sync.pushes.result IS 'What the API answered for this row: for Calltouch the call or request the comment landed on (callInfo, requestInfo); for TWIN the attribute id and the action (set, clear).';
COMMENT ON COLUMN sync.pushes.run_id IS 'The push run (sync.runs.id, source push) that last handled the row.';
COMMENT ON COLUMN sync.pushes.sent_at IS 'When the current payload was last sent successfully.';
COMMENT ON COLUMN sync.pushes.updated_at IS 'When this row last changed.';

-- +goose Down
DROP TABLE sync.pushes;
