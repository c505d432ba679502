from django.db import models


class PlanType(models.TextChoices):
    FIXED = "FIXED", "Fixed fees only"
    USAGE = "USAGE", "Usage only"
    HYBRID = "HYBRID", "Fixed and usage"


class BillingInterval(models.TextChoices):
    DAY = "day", "Daily"
    WEEK = "week", "Weekly"
    MONTH = "month", "Monthly"
    QUARTER = "quarter", "Quarterly"
    YEAR = "year", "Yearly"


class ChargeType(models.TextChoices):
    FIXED = "FIXED", "Fixed fee"
    USAGE = "USAGE", "Usage"


class PricingModel(models.TextChoices):
    PER_UNIT = "per_unit", "Per unit"
    GRADUATED = "graduated", "Graduated tiers"
    VOLUME = "volume", "Volume tiers"
    PACKAGE = "package", "Package"
