from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class FluxbillAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with Fluxbill's site: its index grouped by what finance does (fluxbill/core/admin.py).
    Named in INSTALLED_APPS; `default = False` keeps CoreConfig the config "fluxbill.core" stands for."""

    default = False
    default_site = "fluxbill.core.admin.FluxbillAdminSite"


class CoreConfig(AppConfig):
    name = "fluxbill.core"
    label = "core"
    verbose_name = "Fluxbill core"

    def ready(self):
        from django.apps import apps

        from .roles import roles_sync_after_migrate

        # After every migrate (and every test flush) the roles hold exactly their permissions, new ones
        # included. post_migrate is sent only for apps with models, which this one has not: hang it on auth's.
        post_migrate.connect(roles_sync_after_migrate, sender=apps.get_app_config("auth"), dispatch_uid="fluxbill-roles-sync")
        # History rows written by a task name it (fluxbill/core/history.py).
        from celery.signals import task_postrun, task_prerun

        from .history import task_history_close, task_history_open

        task_prerun.connect(task_history_open, dispatch_uid="fluxbill-history-task-open")
        task_postrun.connect(task_history_close, dispatch_uid="fluxbill-history-task-close")
