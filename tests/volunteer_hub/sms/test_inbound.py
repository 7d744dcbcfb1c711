"""Reading SMS replies: keywords in Vietnamese and English, with or without tone marks."""

from __future__ import annotations

import pytest

from volunteer_hub.services.messaging.inbound import ParsedReply, parse_reply


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CO 123", ParsedReply("accept", 123)),
        ("có 123", ParsedReply("accept", 123)),
        ("yes", ParsedReply("accept", None)),
        ("Đồng ý 45", ParsedReply("accept", 45)),
        ("không 7", ParsedReply("decline", 7)),
        ("No, 7", ParsedReply("decline", 7)),
        ("xong #12", ParsedReply("done", 12)),
        ("Hủy", ParsedReply("opt_out", None)),
        ("STOP", ParsedReply("opt_out", None)),
        ("help", ParsedReply("help", None)),
        ("", ParsedReply("unknown", None)),
        ("alo", ParsedReply("unknown", None)),
        ("Co 12 nhe", ParsedReply("unknown", None)),
        # Everyday words that unaccent into keywords are not answers.
        ("Cô ơi cho hỏi", ParsedReply("unknown", None)),
        ("Huy đến chưa?", ParsedReply("unknown", None)),
        ("  STOP.  ", ParsedReply("opt_out", None)),
    ],
)
def test_replies_are_read(text, expected):
    assert parse_reply(text) == expected
