"""Streaming CSV and JSON Lines responses with constant memory.

The rows come from generators over QuerySet.iterator(), and each row is encoded and sent as it
is produced, so neither the rows nor the encoded file are ever held whole.
"""

import csv
import datetime
import json
from collections.abc import Iterable, Iterator, Sequence

from django.http import StreamingHttpResponse

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
}


class _LineBuffer:
    """A file-like object whose write() returns the text instead of storing it."""

    def write(self, text: str) -> str:
        return text


def _plain(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def csv_lines(rows: Iterable[dict], columns: Sequence[str]) -> Iterator[str]:
    writer = csv.writer(_LineBuffer())
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow([_csv_cell(row.get(column)) for column in columns])


# Spreadsheets run a cell that starts with one of these as a formula. Justifications and
# comments are user input, so such cells get a leading apostrophe, which spreadsheets hide.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def jsonl_lines(rows: Iterable[dict], columns: Sequence[str]) -> Iterator[str]:
    for row in rows:
        record = {column: _plain(row.get(column)) for column in columns}
        yield json.dumps(record, ensure_ascii=False, default=str) + "\n"


def streaming_export(
    rows: Iterable[dict], columns: Sequence[str], *, file_format: str, filename: str
) -> StreamingHttpResponse:
    """Return the rows as a download; `file_format` is a key of FORMATS."""
    lines = csv_lines(rows, columns) if file_format == "csv" else jsonl_lines(rows, columns)
    response = StreamingHttpResponse(lines, content_type=FORMATS[file_format])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{file_format}"'
    return response
