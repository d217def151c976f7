"""Fan-out job ids get their own column instead of living in the checkpoint dict."""

from django.db import migrations, models


def move_batch_jobs(apps, schema_editor):
    """Carry ``checkpoint["batch_jobs"]`` of existing runs over to the new column."""
    SyncRun = apps.get_model("insights_app", "SyncRun")
    for run in SyncRun.objects.filter(checkpoint__has_key="batch_jobs").only("pk", "checkpoint").iterator():
        checkpoint = dict(run.checkpoint)
        job_ids = checkpoint.pop("batch_jobs") or []
        SyncRun.objects.filter(pk=run.pk).update(batch_job_ids=job_ids, checkpoint=checkpoint)


def restore_batch_jobs(apps, schema_editor):
    """Put the fan-out job ids back into the checkpoint."""
    SyncRun = apps.get_model("insights_app", "SyncRun")
    for run in SyncRun.objects.exclude(batch_job_ids=[]).only("pk", "checkpoint", "batch_job_ids").iterator():
        SyncRun.objects.filter(pk=run.pk).update(
            checkpoint={**(run.checkpoint or {}), "batch_jobs": run.batch_job_ids}
        )


class Migration(migrations.Migration):
    dependencies = [("insights_app", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="syncrun",
            name="batch_job_ids",
            field=models.JSONField(blank=True, default=list, verbose_name="fan-out job ids"),
        ),
        migrations.RunPython(move_batch_jobs, restore_batch_jobs),
    ]
