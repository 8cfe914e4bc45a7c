import csv
import datetime
import io
import json

from audit.exports import csv_lines, jsonl_lines

ROWS = [
    {
        "name": '=HYPERLINK("http://example.com")',
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    },
    {"name": "plain, with comma", "when": None, "extra": "ignored"},
    {"name": "-1", "payload": {"b": 1, "a": [1, 2]}},
]


def test_csv_neutralises_formulas():
    rows = list(csv.reader(io.StringIO("".join(csv_lines(ROWS, ["name", "when"])))))
    assert rows[0] == ["name", "when"]
    assert rows[1] == ['\'=HYPERLINK("http://example.com")', "2026-01-02T03:04:05+00:00"]
    assert rows[2] == ["plain, with comma", ""]
    assert rows[3] == ["'-1", ""]


def test_csv_writes_json_values():
    rows = list(csv.reader(io.StringIO("".join(csv_lines(ROWS[2:], ["payload"])))))
    assert rows[1] == ['{"a": [1, 2], "b": 1}']


def test_jsonl_keeps_only_columns():
    lines = [json.loads(line) for line in jsonl_lines(ROWS, ["name", "when"])]
    assert lines[0] == {"name": ROWS[0]["name"], "when": "2026-01-02T03:04:05+00:00"}
    assert lines[1] == {"name": "plain, with comma", "when": None}
    assert len(lines) == 3


def test_csv_is_lazy():
    def endless():
        number = 0
        while True:
            number += 1
            yield {"name": str(number)}

    lines = csv_lines(endless(), ["name"])
    assert [next(lines) for _ in range(3)] == ["name\r\n", "1\r\n", "2\r\n"]
