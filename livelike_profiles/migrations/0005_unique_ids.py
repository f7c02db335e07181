"""profile_id and custom_id: plainly unique, which every supported database enforces."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("livelike_profiles", "0004_empty_ids_to_null"),
    ]

    operations = [
        migrations.AlterField(
            model_name="livelikeprofile",
            name="profile_id",
            field=models.CharField(
                blank=True,
                default=None,
                editable=False,
                max_length=64,
                null=True,
                unique=True,
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
                unique=True,
                help_text="Made once for this row (keyed hash of the user's primary key and a random nonce); sent to LiveLike as the custom id.",
                verbose_name="custom id",
            ),
        ),
    ]
