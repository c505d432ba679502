from django.db import models


class SubscriptionStatus(models.TextChoices):
    TRIAL = "TRIAL", "Trial"
    ACTIVE = "ACTIVE", "Active"
    CANCELED = "CANCELED", "Canceled"
    ENDED = "ENDED", "Ended"


# Statuses that still get billed at the end of their current period.
BILLABLE_STATUSES = (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELED)
