from django.db import migrations, models


class Migration(migrations.Migration):
    """A run's points: what the API charged (of them, estimated) apart from what the budget reserved."""

    dependencies = [
        ("insights_app", "0011_rollups"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="api_points",
            field=models.PositiveIntegerField(default=0, verbose_name="API points charged"),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="api_points_estimated",
            field=models.PositiveIntegerField(default=0, verbose_name="of them estimated"),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="api_points_reserved",
            field=models.PositiveIntegerField(default=0, verbose_name="API points reserved"),
        ),
    ]
