"""PostgreSQL only: extend the text search index to the payload's `reason`.

Revoke reasons and other typed reasons are stored under `reason`, next to `justification` and
`comment`. The expression must stay identical to the one in
audit.queries.search_text_condition, or PostgreSQL will not use the index.
"""

from django.db import migrations

CREATE_SEARCH_INDEX = """
CREATE INDEX audit_payload_text_search ON audit_auditevent USING GIN (
    to_tsvector('simple'::regconfig,
        coalesce(payload ->> 'justification', '') || ' ' || coalesce(payload ->> 'comment', '')
        || ' ' || coalesce(payload ->> 'reason', ''))
);
"""

CREATE_PREVIOUS_SEARCH_INDEX = """
CREATE INDEX audit_payload_text_search ON audit_auditevent USING GIN (
    to_tsvector('simple'::regconfig,
        coalesce(payload ->> 'justification', '') || ' ' || coalesce(payload ->> 'comment', ''))
);
"""

DROP_SEARCH_INDEX = "DROP INDEX IF EXISTS audit_payload_text_search;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_SEARCH_INDEX, params=None)
    schema_editor.execute(CREATE_SEARCH_INDEX, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_SEARCH_INDEX, params=None)
    schema_editor.execute(CREATE_PREVIOUS_SEARCH_INDEX, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger_and_search_index")]

    operations = [migrations.RunPython(forwards, backwards)]
