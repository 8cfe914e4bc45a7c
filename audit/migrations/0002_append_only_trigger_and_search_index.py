"""PostgreSQL only: refuse UPDATE and DELETE of audit events, and index the text search.

SQLite gets neither. There the ORM's refusal and verify_audit are the protection, and the text
search scans (acceptable for development databases).
"""

from django.db import migrations

REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % of event % refused', TG_OP, OLD.sequence
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

# NOTE: TRUNCATE is not refused, because Django's test runner empties tables with TRUNCATE
# between transactional tests. Run the portal as a database role that does not own the table
# and lacks the TRUNCATE privilege to close that gap in production.
CREATE_TRIGGER = """
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_refuse_change();
"""

# The review list's text search matches words of the justification and the comment. The
# expression must stay identical to the one in audit.queries.search_text_condition, or
# PostgreSQL will not use this index. Migration 0003 replaces it with one that also covers
# the payload's reason.
CREATE_SEARCH_INDEX = """
CREATE INDEX audit_payload_text_search ON audit_auditevent USING GIN (
    to_tsvector('simple'::regconfig,
        coalesce(payload ->> 'justification', '') || ' ' || coalesce(payload ->> 'comment', ''))
);
"""

DROP_SEARCH_INDEX = "DROP INDEX IF EXISTS audit_payload_text_search;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(REFUSE_CHANGE_FUNCTION, params=None)
    schema_editor.execute(CREATE_TRIGGER, params=None)
    schema_editor.execute(CREATE_SEARCH_INDEX, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_SEARCH_INDEX, params=None)
    schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
