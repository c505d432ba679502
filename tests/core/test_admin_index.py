"""The admin index is grouped by what finance does (catalog, customers, billing, keys), not by Python app;
what a user sees in it is still what they may view, and every model keeps its /admin/<app>/<model>/ URL."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

FINANCE_SECTIONS = {
    "Catalog": ["Meters", "Plans", "Charges", "Tax rates"],
    "Customers": ["Customers", "Subscriptions", "Billing entities"],
    "Billing": ["Invoices", "Credit notes", "Payments", "Credit ledger", "Usage events"],
    "Keys and webhooks": ["API keys", "Webhook endpoints", "Webhook deliveries"],
}


def _login(client, user):
    client.force_login(user)
    return client


def _staff(role):
    user = StaffFactory(username=role.lower())
    user.groups.add(Group.objects.get(name=role))
    return user


def _sections(response):
    """Each box of the index: its heading, and the models in it (their names) in order."""
    assert response.status_code == 200
    return {app["name"]: [model["name"] for model in app["models"]] for app in response.context["app_list"]}


def _captions(html):
    return re.findall(r'<caption>\s*<a href="[^"]*" class="section"[^>]*>([^<]+)</a>', html)


def test_finance_sees_the_index_in_finance_sections_in_order(client):
    response = _login(client, _staff("Finance")).get("/admin/")

    assert _sections(response) == FINANCE_SECTIONS  # dicts keep order: the comparison is of names only
    assert list(_sections(response)) == ["Catalog", "Customers", "Billing", "Keys and webhooks"]
    html = response.content.decode()
    assert _captions(html) == ["Catalog", "Customers", "Billing", "Keys and webhooks"]
    assert 'href="/static/fluxbill/admin.css"' in html  # the tables' styles, from a file (CSP)
    # The links are the models' own admin URLs, unchanged.
    for url in ["/admin/metering/meter/", "/admin/catalog/plan/", "/admin/catalog/charge/", "/admin/customers/customer/",
                "/admin/customers/subscription/", "/admin/invoicing/invoice/", "/admin/metering/usageevent/", "/admin/apikeys/apikey/"]:
        assert f'href="{url}"' in html, url


def test_a_superuser_also_gets_users_and_groups_after_finances_sections(client):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    sections = _sections(_login(client, root).get("/admin/"))

    assert list(sections)[:5] == ["Catalog", "Customers", "Billing", "Keys and webhooks", "Users and groups"]
    assert sections["Users and groups"] == ["Users", "Groups"]
    # Other apps' models (periodic tasks, login attempts) keep their own boxes after ours.
    assert "Catalog" not in list(sections)[5:] and all(name not in FINANCE_SECTIONS for name in list(sections)[5:])


def test_support_sees_the_models_it_may_view_and_no_add_links(client):
    html_response = _login(client, _staff("Support")).get("/admin/")

    assert _sections(html_response) == FINANCE_SECTIONS  # Support reads every model of Fluxbill's apps
    html = html_response.content.decode()
    assert "Users and groups" not in html
    assert 'href="/admin/catalog/plan/add/"' not in html and 'href="/admin/auth/user/"' not in html


def test_a_user_who_may_view_only_invoices_gets_only_billing_with_invoices(client):
    user = StaffFactory(username="reader")
    user.user_permissions.add(Permission.objects.get(codename="view_invoice"))

    response = _login(client, user).get("/admin/")

    assert _sections(response) == {"Billing": ["Invoices"]}
    assert 'href="/admin/catalog/plan/"' not in response.content.decode()


def test_an_apps_own_page_still_lists_its_models(client):
    response = _login(client, _staff("Finance")).get("/admin/catalog/")

    assert _sections(response) == {"Plans and charges": ["Charges", "Plans", "Tax rates"]}  # the app's own name
    assert response.context["app_list"][0]["app_label"] == "catalog"
