from fluxbill.core import dashboard


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"is_finance": dashboard.allowed(user, dashboard.FINANCE_ACTION)}
