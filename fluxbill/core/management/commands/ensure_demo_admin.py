import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from fluxbill.settings.env import STATE_DIR


class Command(BaseCommand):
    help = "Create the demo superuser `admin` on first run and print its login (make run calls this)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        secret_file = STATE_DIR / "demo-admin-password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email=f"{username}@fluxbill.local", password=password)
            STATE_DIR.mkdir(exist_ok=True)
            secret_file.write_text(password)
            secret_file.chmod(0o600)
        elif secret_file.exists():
            password = secret_file.read_text().strip()
        else:
            self.stdout.write(f"Demo login: user '{username}' already exists (password unchanged).")
            return
        self.stdout.write(f"Demo login: {username} / {password}  (stored in {secret_file})")
