"""What every dashboard page shares: the permission check, pagination, sorting.

A page names the permission it needs (fluxbill.core.permissions); `require` asks `may`, the same
check the API and admin use. Buttons are shown with the `can` template filter, which asks it too.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator

from .permissions import may


def require(perm: str):
    """Decorator for dashboard views: anonymous → login page, without the permission → 403."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not may(request.user, perm):
                raise PermissionDenied(f"You do not have the permission this page needs ({perm}).")
            return view(request, *args, **kwargs)

        wrapper.dashboard_permission = perm
        return wrapper

    return decorate


def paginate(request, queryset, per_page: int = 25):
    """A page of the queryset from ?page= (out-of-range pages give the last page)."""
    paginator = Paginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))


def sort(request, queryset, allowed_fields: dict[str, str | tuple[str, ...]], default: str):
    """Order by ?sort=<key> or ?sort=-<key> when the key is allowed (a key may stand for several fields);
    the primary key breaks ties, so pages never overlap. Returns (queryset, current key)."""
    wanted = request.GET.get("sort") or default
    key = wanted.lstrip("-")
    if key not in allowed_fields:
        wanted, key = default, default.lstrip("-")
    fields = allowed_fields[key]
    fields = (fields,) if isinstance(fields, str) else tuple(fields)
    sign = "-" if wanted.startswith("-") else ""
    return queryset.order_by(*(f"{sign}{field}" for field in fields), f"{sign}pk"), wanted


def querystring(request, **changes) -> str:
    """The current query string with some parameters replaced (for sort and page links)."""
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else ""
