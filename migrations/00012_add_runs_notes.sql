-- +goose Up
-- What an extractor chose for a run that changes its cost, e.g. how Text Request messages
-- were read per dashboard (the dashboard-wide list, or per contact).
ALTER TABLE sync.runs ADD COLUMN notes text;
COMMENT ON COLUMN sync.runs.notes IS 'Choices the run made that change its cost, "; "-separated, e.g. "dashboard 4101: messages from the dashboard-wide list"; empty when none.';

-- +goose Down
ALTER TABLE sync.runs DROP COLUMN notes;
