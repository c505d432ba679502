"""What the dashboard tests share besides fixtures."""

import csv
import io

from django.http import StreamingHttpResponse


def csv_rows(response, filename: str) -> list[list[str]]:
    """A CSV export's rows, header first, after checking it is a streamed attachment named `filename`-…."""
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{filename}-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
