"""Scope checks for API keys; staff users may do everything the API offers."""

from rest_framework import permissions

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
        if user.is_staff:
            return True
        self.message = "Only staff users may use the management API"
        return False
