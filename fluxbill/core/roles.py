"""The staff roles, Finance and Support, as Django groups with a fixed set of permissions.

Finance may do everything in Fluxbill's apps. Support reads everything and may regenerate invoices,
resend their emails and draft interim invoices. The groups are created by a data migration and set to
exactly these permissions after every `migrate` (post_migrate), so a permission a later feature adds
reaches the roles without another migration, and a hand edit in admin does not drift from this file.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

from . import permissions as p

FINANCE = "Finance"
SUPPORT = "Support"

SUPPORT_OPERATIONS = (p.REGENERATE_INVOICE, p.SEND_INVOICE_EMAIL, p.SEND_CREDIT_NOTE_EMAIL, p.GENERATE_INTERIM_INVOICE)


def _codename(perm: str) -> tuple[str, str]:
    app_label, codename = perm.split(".")
    return app_label, codename


def roles_sync(*, apps=global_apps, using: str = "default") -> None:
    """Create both groups if missing and give each exactly its role's permissions."""
    # Permissions are created per app after that app migrates; make sure all exist before counting them.
    # (create_permissions takes the installed app's config and the models of `apps`, which may be historical.)
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.using(using).filter(content_type__app_label__in=p.APPS)
    support_ops = [_codename(perm) for perm in SUPPORT_OPERATIONS]
    support = [
        perm.pk
        for perm in ours.select_related("content_type")
        if perm.codename.startswith("view_") or (perm.content_type.app_label, perm.codename) in support_ops
    ]
    finance_group, _ = Group.objects.using(using).get_or_create(name=FINANCE)
    support_group, _ = Group.objects.using(using).get_or_create(name=SUPPORT)
    finance_group.permissions.set(list(ours.values_list("pk", flat=True)))
    support_group.permissions.set(support)


def roles_sync_after_migrate(sender, using="default", apps=global_apps, **kwargs) -> None:
    roles_sync(apps=apps, using=using)
