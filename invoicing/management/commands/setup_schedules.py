from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from invoicing.schedules import schedules


class Command(BaseCommand):
    help = "Create or update the beat schedules (by name; running it again changes nothing)."

    @transaction.atomic
    def handle(self, *args, **options):
        for name, task, seconds in schedules():
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            _, created = PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": interval, "enabled": True}
            )
            self.stdout.write(f"{'created' if created else 'updated'}: {name} every {seconds}s")
