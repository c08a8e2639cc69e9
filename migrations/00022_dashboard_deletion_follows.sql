-- +goose Up
-- A Text Request dashboard gone from the account takes its rows with it. Its contacts,
-- payments and the rest are never listed again (the streams read the account's
-- dashboards), so no pass of theirs would ever mark them. The dashboards stream's pass
-- marks the dashboard itself, under the delete guard; this trigger then marks every
-- live row of that dashboard with the same deleted_at, and clears exactly those marks
-- when the dashboard comes back.
-- +goose StatementBegin
CREATE FUNCTION textrequest.dashboard_deletion_follows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['contacts', 'contact_tags', 'contact_groups', 'contact_custom_fields', 'conversations',
                             'messages', 'payments', 'groups', 'tags', 'custom_fields'] LOOP
        IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
            EXECUTE format('UPDATE textrequest.%I SET deleted_at = $1 WHERE dashboard_id = $2 AND deleted_at IS NULL', t)
                USING NEW.deleted_at, NEW.id;
        ELSIF NEW.deleted_at IS NULL AND OLD.deleted_at IS NOT NULL THEN
            EXECUTE format('UPDATE textrequest.%I SET deleted_at = NULL WHERE dashboard_id = $2 AND deleted_at = $1', t)
                USING OLD.deleted_at, NEW.id;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER dashboard_deletion_follows AFTER UPDATE OF deleted_at ON textrequest.dashboards
    FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION textrequest.dashboard_deletion_follows();
COMMENT ON FUNCTION textrequest.dashboard_deletion_follows() IS 'Marks every row of a dashboard deleted when the dashboard is (same deleted_at), and clears those marks when it comes back.';

-- +goose Down
DROP TRIGGER dashboard_deletion_follows ON textrequest.dashboards;
DROP FUNCTION textrequest.dashboard_deletion_follows();
