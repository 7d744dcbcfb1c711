"""Numbers follow the page's language: in Vietnamese a decimal comma and a thousands dot
(``126,8``, ``15,97 USD``, ``1.234``), never the English ``12.5`` or ``1,234``.

Every page the raw-code walk renders (tests/volunteer_hub/test_no_raw_codes.py), on the demo,
as a coordinator and as an admin, is read in Vietnamese; the numbers in its visible text must
not be written the English way. Counts that can pass 999 go into messages formatted
(``%(n)s`` with the ``number`` filter), not as ``%(n)d``, which writes ``12345``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from tests.conftest import login
from tests.volunteer_hub.test_no_raw_codes import (
    PASSWORD,
    READ_TYPES,
    demo,  # noqa: F401  (the fixture)
    demo_ids,
    page_paths,
    visible_texts,
)
from volunteer_hub.demo.hue import ADMIN_EMAIL, COORDINATOR_EMAIL

#: An English decimal: digits, a dot, one or two digits (``12.5``, ``15.97``), and not part
#: of a longer dotted run (a version ``1.2.3``, an address ``127.0.0.1``, a Vietnamese
#: thousands ``1.234`` or ``12.345.678``) nor of a time or a date (``14:07``, ``05/12``).
ENGLISH_DECIMAL = re.compile(r"(?<![\d.,:/])\d+\.\d{1,2}(?![\d.,:/])")
#: An English thousands separator: ``1,234`` or ``12,345,678`` (a Vietnamese decimal has
#: one or two digits after its comma: ``12,5``, ``15,97``).
ENGLISH_THOUSANDS = re.compile(r"(?<![\d.,:/])\d{1,3}(?:,\d{3})+(?![\d.,:/])")


def english_numbers(text: str) -> list[str]:
    # Links and addresses people may read on a page are not numbers.
    text = re.sub(r"\S*(?:https?://|www\.|@)\S*", " ", text)
    return ENGLISH_DECIMAL.findall(text) + ENGLISH_THOUSANDS.findall(text)


def test_the_pattern_tells_english_numbers_from_vietnamese_ones():
    assert english_numbers("126.8 giờ, 15.97 USD, 1,234 hộ") == ["126.8", "15.97", "1,234"]
    for fine in (
        "126,8 giờ",
        "15,97 USD",
        "1.234 hộ",
        "12.345.678",
        "14:07 05/12/2026",
        "phiên bản 1.2.3",
        "127.0.0.1",
        "0905 123 456",
        "https://vh.example/s/aB3.4x",
        "ngày 5 thg 12, 2026",
    ):
        assert english_numbers(fine) == [], fine


def test_every_page_writes_numbers_the_vietnamese_way(app, demo):  # noqa: F811
    paths = page_paths(app, demo_ids(demo))
    assert len(paths) >= 40
    problems: list[str] = []
    rendered = 0
    for email in (COORDINATOR_EMAIL, ADMIN_EMAIL):
        client = app.test_client()
        assert login(client, email, PASSWORD).status_code == 302
        for path in paths:
            response = client.get(f"{path}{'&' if '?' in path else '?'}lang=vi")
            if response.status_code != 200 or response.mimetype != READ_TYPES[0]:
                continue  # CSV keeps machine numbers on purpose (docs/reports.md)
            rendered += 1
            for text in visible_texts(response.get_data(as_text=True), response.mimetype):
                for number in english_numbers(text):
                    problems.append(f"{path} ({email}): {number} in {text.strip()[:80]!r}")
    assert rendered >= 60
    assert not problems, "\n".join(sorted(set(problems)))


#: Messages whose ``%(x)d`` numbers stay small by nature (a plan's version, a priority from
#: 1 to 5, a year, an age, a password's length, one household's people, a few attempts):
#: they never need a thousands separator. Any other count goes in formatted, as ``%(x)s``.
SMALL_NUMBERS = {
    "At most %(n)d items.",
    "Choose at least %(n)d.",
    "Row %(row)s, column %(column)d holds more than %(n)s characters: no field is that long. "
    "Check the file and try again.",
    "This Excel file unpacks to %(mb)d MB, more than the %(cap)d MB an import may take. Keep "
    "only the sheet to import (at most %(rows)s rows) and try again.",
    "Volunteers are between %(low)d and %(high)d years old.",
    "Please keep it under %(n)d characters.",
    "The password must have at least %(n)d characters.",
    "The password must have at most %(n)d characters.",
    "P%(p)d",
    "%(n)d seconds",
    "version %(v)d",
    "%(n)d people",
    "Published version %(v)d.",
    "Priority %(p)d",
    "Version %(v)d",
    "Version %(a)d and version %(b)d",
    "Planning version %(v)d",
    "Plan, version %(v)d",
    "Publish version %(v)d",
    "Publish version %(v)d?",
    "Compare with version %(v)d",
    "priority %(p)d",
    "%(n)d attempts",
    "The import stopped %(n)d times before it finished, so it was not tried again.",
    "This file is larger than %(mb)d MB.",
    "Enter a whole number from 1 to %(max)d.",
    "Dates must fall between the years %(first)d and %(last)d.",
}


def test_counts_that_can_pass_999_are_formatted_in_messages():
    catalog = Path(__file__).parents[2] / "volunteer_hub/translations/en/LC_MESSAGES/messages.po"
    with catalog.open("rb") as handle:
        messages = list(read_po(handle))
    raw = sorted(
        m.id
        for m in messages
        if isinstance(m.id, str) and re.search(r"%\(\w+\)d", m.id) and m.id not in SMALL_NUMBERS
    )
    assert not raw, "format these counts (%(n)s with |number or format_decimal):\n" + "\n".join(raw)
    assert {m.id for m in messages} >= SMALL_NUMBERS  # the list names real messages


def test_a_large_count_in_a_message_has_its_thousands_separator(app):
    from volunteer_hub.services.intake.imports import (
        MAX_ROWS,
        REQUEST_COLUMNS,
        ImportFileError,
        payloads,
    )

    assert MAX_ROWS >= 1000
    header = [c.key for c in REQUEST_COLUMNS]
    table = [header] + [[f"x{i}"] * len(header) for i in range(MAX_ROWS + 1)]
    with app.test_request_context(), force_locale("vi"):
        with pytest.raises(ImportFileError) as refused:
            payloads(REQUEST_COLUMNS, table)
        message = str(refused.value)
    assert f"{MAX_ROWS:,}".replace(",", ".") in message, message  # "2.000", not "2000"
