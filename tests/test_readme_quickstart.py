"""README's Quickstart block, run as it stands by bash with curl and jq against a live server.

The block is read from README.md between its markers, so an edit there that breaks a step fails here.
Only BASE and PASSWORD come from outside, as the block's first lines allow.
"""

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from invoicing.models import Invoice
from metering.models import UsageEvent

README = Path(__file__).resolve().parent.parent / "README.md"


def quickstart_block() -> str:
    text = README.read_text()
    found = re.search(r"<!-- quickstart -->\n```sh\n(.*?)```\n<!-- /quickstart -->", text, re.S)
    assert found, "README.md has no quickstart block between <!-- quickstart --> and <!-- /quickstart -->"
    return found.group(1)


@pytest.mark.django_db(transaction=True)
def test_readme_quickstart_runs_against_a_live_server(live_server, tmp_path):
    for tool in ("bash", "curl", "jq"):
        assert shutil.which(tool), f"{tool} is needed by the README quickstart (.ci/run installs it)"
    get_user_model().objects.create_superuser(
        username="admin", email="admin@fluxbill.local", password="demo-pass-word-1"
    )

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", quickstart_block()],
        env={"PATH": "/usr/bin:/bin", "BASE": f"{live_server.url}/api/v1", "PASSWORD": "demo-pass-word-1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    # Step 7's jq prints the interim invoice: 150 calls at 0.001.
    last = result.stdout[result.stdout.rindex("{"):]
    assert '"status": "DRAFT"' in last and '"total": "0.15"' in last, result.stdout
    event = UsageEvent.objects.get()
    assert (event.quantity, event.customer.external_id) == (Decimal("150"), "acme-corp-001")
    assert Invoice.objects.get().total == Decimal("0.15")
