-- +goose Up
-- Text PostgreSQL cannot store (invalid UTF-8, NUL) is repaired by the loader, not
-- rejected, and a reject's payload keeps such bytes escaped: the comments say so.
COMMENT ON COLUMN sync.runs.nuls_cleaned IS 'Values repaired because PostgreSQL cannot store them as sent: NUL characters removed, bytes that are not UTF-8 replaced by U+FFFD (in typed columns and raw alike).';
COMMENT ON COLUMN sync.rejects.payload IS 'The record as received, cut to its first 64 KiB when larger (the reason then says so). A record holding bytes text cannot store (invalid UTF-8, NUL) is written as a quoted string literal with those bytes escaped (\xff, \x00), so the original bytes survive.';
COMMENT ON COLUMN sync.rejects.payload_json IS 'The same record as JSON, when it is valid JSON and was not cut (bytes jsonb cannot store repaired as in raw).';

-- +goose Down
COMMENT ON COLUMN sync.runs.nuls_cleaned IS 'Values from which NUL characters were removed (PostgreSQL cannot store them in text).';
COMMENT ON COLUMN sync.rejects.payload IS 'The record as received (may be invalid JSON; NUL characters removed).';
COMMENT ON COLUMN sync.rejects.payload_json IS 'The same record as JSON, when it is valid JSON.';
