from django.db import migrations


def give_roles_their_permissions(apps, schema_editor):
    from fluxbill.core.roles import roles_sync

    roles_sync(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Finance and Support get their permission sets (fluxbill.core.roles); post_migrate keeps them so."""

    dependencies = [
        ("core", "0001_staff_groups"),
        ("apikeys", "0002_permissions"),
        ("customers", "0003_permissions"),
        ("invoicing", "0006_permissions"),
        ("catalog", "0003_charge_package_size_not_null"),
        ("metering", "0005_usage_fk_indexes_dropped"),
    ]
    operations = [migrations.RunPython(give_roles_their_permissions, migrations.RunPython.noop)]
