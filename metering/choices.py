from django.db import models


class AggregationType(models.TextChoices):
    COUNT = "COUNT", "Count of events"
    SUM = "SUM", "Sum of quantities"
    MAX = "MAX", "Largest quantity"
    MIN = "MIN", "Smallest quantity"
    AVG = "AVG", "Average quantity"
    LATEST = "LATEST", "Latest quantity"
    UNIQUE_COUNT = "UNIQUE_COUNT", "Count of distinct values"


# Names other products use for the same aggregation, accepted on input.
AGGREGATION_ALIASES = {"LAST": AggregationType.LATEST}
