# The (meter, timestamp) index also carries the quantity, so usage charts read no table rows.
# Built concurrently, and the old index dropped only after, so ingestion never waits on either.

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0002_customer_customer_name_trgm_and_more"),
        ("metering", "0003_usageevent_usage_ts_id_desc_and_more"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="usageevent",
            index=models.Index(fields=["meter", "timestamp"], include=("quantity",), name="usage_meter_ts_qty"),
        ),
        RemoveIndexConcurrently(model_name="usageevent", name="usage_meter_ts"),
    ]
