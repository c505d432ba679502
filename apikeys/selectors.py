"""Reads of API keys that the dashboard list and the API share."""

import datetime

from django.db.models import Case, CharField, QuerySet, Value, When
from django.db.models.functions import Coalesce

from .filters import STATES, state_condition
from .models import ApiKey

# Never used sorts as the oldest use and never expiring as the latest expiry, in either direction
# (PostgreSQL would otherwise put NULLs first when sorting descending).
_NEVER_USED = Value(datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC))
_NEVER_EXPIRES = Value(datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC))


def api_key_list(*, now: datetime.datetime) -> QuerySet:
    """Keys with their creator, their state at `now` (`state`) and the sort keys for last use and expiry."""
    state = Case(
        *(When(state_condition(value, now), then=Value(value)) for value, _ in STATES), output_field=CharField()
    )
    return ApiKey.objects.select_related("created_by").annotate(
        state=state,
        last_used_sort=Coalesce("last_used_at", _NEVER_USED),
        expires_sort=Coalesce("expires_at", _NEVER_EXPIRES),
    )
