from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "fluxbill.core"
    label = "core"
    verbose_name = "Fluxbill core"

    def ready(self):
        from .roles import roles_sync_after_migrate

        # After every migrate the roles hold exactly their permissions, new ones included.
        post_migrate.connect(roles_sync_after_migrate, sender=self, dispatch_uid="fluxbill-roles-sync")
