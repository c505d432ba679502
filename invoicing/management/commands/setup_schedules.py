from django.core.management.base import BaseCommand

from invoicing.schedules import schedules_install


class Command(BaseCommand):
    help = "Create or update the beat schedules (by name; running it again changes nothing). `migrate` runs it too."

    def handle(self, *args, **options):
        for name, seconds, created in schedules_install():
            self.stdout.write(f"{'created' if created else 'updated'}: {name} every {seconds}s")
