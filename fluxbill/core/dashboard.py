"""What every dashboard page shares: roles, permission checks, pagination, sorting.

Roles are Django groups. Finance may do everything; Support may read everything and regenerate
or resend invoices. Superusers count as Finance. Checks happen in the view, not only in templates.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator

FINANCE = "Finance"
SUPPORT = "Support"

# What each level requires: any role, a role allowed to fix invoices, or Finance.
READ = "read"
SUPPORT_ACTION = "support_action"
FINANCE_ACTION = "finance"

_ALLOWED = {
    READ: {FINANCE, SUPPORT},
    SUPPORT_ACTION: {FINANCE, SUPPORT},
    FINANCE_ACTION: {FINANCE},
}


def roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_fluxbill_roles", None)
    if cached is None:
        cached = {FINANCE, SUPPORT} if user.is_superuser else set(user.groups.values_list("name", flat=True))
        user._fluxbill_roles = cached
    return cached


def allowed(user, level: str) -> bool:
    return bool(roles(user) & _ALLOWED[level])


def require(level: str = READ):
    """Decorator for dashboard views: anonymous → login page, wrong role → 403."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user, level):
                raise PermissionDenied(f"Your role does not allow this ({level}).")
            return view(request, *args, **kwargs)

        wrapper.dashboard_level = level
        return wrapper

    return decorate


def paginate(request, queryset, per_page: int = 25):
    """A page of the queryset from ?page= (out-of-range pages give the last page)."""
    paginator = Paginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))


def sort(request, queryset, allowed_fields: dict[str, str], default: str):
    """Order by ?sort=<key> or ?sort=-<key> when the key is allowed; returns (queryset, current key)."""
    wanted = request.GET.get("sort") or default
    key = wanted.lstrip("-")
    if key not in allowed_fields:
        wanted, key = default, default.lstrip("-")
    field = allowed_fields[key]
    descending = wanted.startswith("-")
    return queryset.order_by(f"-{field}" if descending else field, "-pk" if descending else "pk"), wanted


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
