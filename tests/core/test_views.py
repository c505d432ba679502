"""Pages and handlers shared by every app (fluxbill.core.views)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/api/v1/invoices/0.5/", "/api/v1/events/null,null", "/api/v1/plans/a/b/c", "/api/v1/no-such-thing"]
)
def test_url_no_api_route_matches_is_a_json_404(admin_api, url):
    # Found by the schema fuzzer: ids the route's pattern refuses reached Django's HTML 404 page.
    response = admin_api.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": f"No API route matches {url}", "field": None}


def test_unknown_page_keeps_the_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
