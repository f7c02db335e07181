"""An empty profile_id or custom_id becomes NULL; every row is kept (and "" again on the way back)."""

from django.db import migrations

FIELDS = ("profile_id", "custom_id")


def empty_to_null(apps, schema_editor):
    Row = apps.get_model("livelike_profiles", "LiveLikeProfile")
    rows = Row.objects.using(schema_editor.connection.alias)
    for name in FIELDS:
        rows.filter(**{name: ""}).update(**{name: None})


def null_to_empty(apps, schema_editor):
    Row = apps.get_model("livelike_profiles", "LiveLikeProfile")
    rows = Row.objects.using(schema_editor.connection.alias)
    for name in FIELDS:
        rows.filter(**{f"{name}__isnull": True}).update(**{name: ""})


class Migration(migrations.Migration):
    dependencies = [
        ("livelike_profiles", "0003_nullable_ids_without_conditions"),
    ]

    operations = [
        migrations.RunPython(empty_to_null, null_to_empty, elidable=True),
    ]
