"""Who may call an API route: an API key by its scopes, a staff user by its Django permissions.

A view says what a request needs in two vocabularies, one per kind of caller:
- scopes, for keys: `required_scope`, `method_scopes`, `action_scopes`, or `scope_resource` + read/write;
- permissions, for staff (session or JWT cookie): `required_permission`, `method_permissions`,
  `action_permissions`, or `permission_model` + the model permission of the HTTP method.
Staff are checked by `fluxbill.core.permissions.may`, the check the dashboard and admin use.
"""

from rest_framework import permissions

from fluxbill.core.permissions import may, model_permission

from .authentication import ApiKeyPrincipal
from .scopes import grants


def required_scope(view, request) -> str | None:
    """The scope a request needs: the view's `required_scope`, per action, or by resource and method."""
    action = getattr(view, "action", None)
    per_action = getattr(view, "action_scopes", {})
    if action in per_action:
        return per_action[action]
    per_method = getattr(view, "method_scopes", {})
    if request.method in per_method:
        return per_method[request.method]
    explicit = getattr(view, "required_scope", None)
    if explicit:
        return explicit
    resource = getattr(view, "scope_resource", None)
    if resource is None:
        return None
    verb = "read" if request.method in permissions.SAFE_METHODS else "write"
    return f"{resource}.{verb}"


def required_permission(view, request) -> str | None:
    """The Django permission a staff user needs for this request, or None for a view that names none."""
    action = getattr(view, "action", None)
    per_action = getattr(view, "action_permissions", {})
    if action in per_action:
        needed = per_action[action]
        return needed.get(request.method) if isinstance(needed, dict) else needed
    per_method = getattr(view, "method_permissions", {})
    if request.method in per_method:
        return per_method[request.method]
    explicit = getattr(view, "required_permission", None)
    if explicit:
        return explicit
    model = getattr(view, "permission_model", None)
    return model_permission(model, request.method) if model else None


class HasScope(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if isinstance(user, ApiKeyPrincipal):
            needed = required_scope(view, request)
            if needed is None or grants(user.key.scopes, needed):
                return True
            self.message = f"API key lacks the required scope: {needed}"
            return False
        if not (user.is_staff and user.is_active):
            self.message = "Only staff users may use the management API"
            return False
        needed = required_permission(view, request)
        if needed is None:
            # A route that names no permission is open only to superusers: nothing is allowed by omission.
            if user.is_superuser:
                return True
            self.message = "This route names no staff permission; only superusers may call it"
            return False
        if may(user, needed):
            return True
        self.message = f"Your account lacks the required permission: {needed}"
        return False
