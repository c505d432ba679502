"""An issued invoice's PDF is rendered once and stored: concurrent first downloads (dashboard and API)
render it once and get identical bytes, and the email attaches the same bytes. A draft's PDF is
rendered on each request and never stored. Renders are counted at WeasyPrint's `write_pdf`."""

import hashlib
import threading
import time

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from invoicing.models import Invoice, InvoiceDocument
from invoicing.services import invoice_email_send, invoice_finalize
from tests.factories import make_api_key

from .builders import ACTOR, period_draft, utc

NOW = utc(2025, 2, 1, 2)
DOWNLOADS = 6


@pytest.fixture
def renders(monkeypatch):
    """Count every PDF render; each is slowed so that concurrent first downloads overlap it."""
    from weasyprint import HTML

    count = []
    original = HTML.write_pdf

    def counted(self, *args, **kwargs):
        count.append(1)
        time.sleep(0.5)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HTML, "write_pdf", counted)
    return count


def _download(url: str, client, results: list, start: threading.Barrier) -> None:
    try:
        start.wait(10)
        response = client.get(url)
        results.append((response.status_code, response["Content-Type"], response.content))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_downloads_render_once_and_the_email_attaches_the_same_bytes(renders, staff_user):
    draft, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd")
    invoice = invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    _, raw = make_api_key(scopes=("*",))
    clients = []
    for i in range(DOWNLOADS):
        if i % 2:
            api = APIClient()
            api.credentials(HTTP_X_API_KEY=raw)
            clients.append((f"/api/v1/invoices/{invoice.pk}/pdf", api))
        else:
            page = Client()
            page.force_login(staff_user)
            clients.append((f"/invoices/{invoice.pk}/pdf/", page))
    results: list = []
    start = threading.Barrier(DOWNLOADS)
    threads = [threading.Thread(target=_download, args=(url, c, results, start)) for url, c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    print(f"{DOWNLOADS} concurrent first downloads: {len(renders)} render(s)")
    assert [(status, kind) for status, kind, _ in results] == [(200, "application/pdf")] * DOWNLOADS
    assert len({body for _, _, body in results}) == 1
    assert len(renders) == 1
    stored = InvoiceDocument.objects.get(invoice=invoice)
    body = results[0][2]
    assert bytes(stored.pdf) == body and body.startswith(b"%PDF")
    assert (stored.sha256, stored.size) == (hashlib.sha256(body).hexdigest(), len(body))

    assert invoice_email_send(invoice=Invoice(pk=invoice.pk), now=NOW, actor=ACTOR)[1] == ""
    ((name, attached, kind),) = mail.outbox[0].attachments
    assert (name, kind, attached) == ("INV-2025-000001.pdf", "application/pdf", body)
    assert len(renders) == 1


@pytest.mark.django_db
def test_the_email_renders_and_stores_the_pdf_a_later_download_reads_it(renders, admin_api):
    draft, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd")
    invoice = invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    invoice_email_send(invoice=invoice, now=NOW, actor=ACTOR)
    assert len(renders) == 1
    response = admin_api.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert response.content == mail.outbox[0].attachments[0][1]
    assert len(renders) == 1


@pytest.mark.django_db
def test_a_drafts_pdf_is_rendered_each_time_and_not_stored(renders, admin_api):
    draft, _, _ = period_draft(units=5)
    for _ in range(2):
        assert admin_api.get(f"/api/v1/invoices/{draft.pk}/pdf").status_code == 200
    assert len(renders) == 2
    assert not InvoiceDocument.objects.exists()


@pytest.mark.django_db
def test_a_status_change_renders_the_pdf_again_so_it_shows_the_new_status(renders, admin_api):
    import io

    from pypdf import PdfReader

    from invoicing.services import invoice_mark_paid

    draft, _, _ = period_draft(units=5, email="ap@acme.test", name="Acme Ltd")
    invoice = invoice_finalize(invoice=draft, now=NOW, actor=ACTOR)
    first = admin_api.get(f"/api/v1/invoices/{invoice.pk}/pdf").content
    invoice_mark_paid(invoice=invoice, now=NOW, actor=ACTOR)
    assert not InvoiceDocument.objects.filter(invoice=invoice).exists()
    second = admin_api.get(f"/api/v1/invoices/{invoice.pk}/pdf").content

    def text(pdf: bytes) -> str:
        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)

    # The customer's copy names no internal status; a paid invoice carries the PAID stamp with its date.
    assert "PAID" not in text(first) and "PAID2025-02-01" in "".join(text(second).split())
    assert len(renders) == 2 and InvoiceDocument.objects.filter(invoice=invoice).count() == 1
