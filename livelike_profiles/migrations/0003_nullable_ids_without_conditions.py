"""profile_id and custom_id may be NULL, and lose their conditional unique constraints.

Those constraints (``WHERE ... <> ''``) are never created on MariaDB/MySQL,
which cannot build partial indexes. "No id yet" becomes NULL instead
(0004), and the columns plainly unique (0005), which every database enforces
while letting NULLs repeat. Three migrations, because PostgreSQL refuses to
alter a table in the transaction that updated its rows.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("livelike_profiles", "0002_revoked_status_and_sync_fields"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="livelikeprofile", name="livelike_profiles_unique_profile_id"
        ),
        migrations.RemoveConstraint(
            model_name="livelikeprofile", name="livelike_profiles_unique_custom_id"
        ),
        migrations.AlterField(
            model_name="livelikeprofile",
            name="profile_id",
            field=models.CharField(
                blank=True,
                default=None,
                editable=False,
                max_length=64,
                null=True,
                verbose_name="LiveLike profile id",
            ),
        ),
        migrations.AlterField(
            model_name="livelikeprofile",
            name="custom_id",
            field=models.CharField(
                blank=True,
                default=None,
                editable=False,
                max_length=255,
                null=True,
                help_text="Made once for this row (keyed hash of the user's primary key and a random nonce); sent to LiveLike as the custom id.",
                verbose_name="custom id",
            ),
        ),
    ]
