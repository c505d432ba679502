# The usage table's single-column meter and customer indexes are covered by the composite indexes that
# start with those columns (usage_meter_ts_qty, usage_cust_meter_ts, the idempotency key's), so they
# only cost every stored event two more index writes. Dropped concurrently: ingestion never waits.

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "meter_id": "metering_usageevent_meter_id_59b7d234",
    "customer_id": "metering_usageevent_customer_id_1d4947e3",
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("metering", "0004_usage_meter_index_covers_quantity"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="usageevent",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="usage_events",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="usageevent",
                    name="meter",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="metering.meter",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
                    reverse_sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON metering_usageevent ({column})",
                )
                for column, name in INDEXES.items()
            ],
        ),
    ]
