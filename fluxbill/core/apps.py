from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "fluxbill.core"
    label = "core"
    verbose_name = "Fluxbill core"
