"""What an SMS body costs: its encoding (GSM-7 or UCS-2), its parts, and unaccenting."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The GSM 03.38 default alphabet (one septet each) and its extension table (two septets each:
# the escape character, then the character). Anything else forces UCS-2 for the whole message.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Characters per part: a single message holds 160 septets or 70 UTF-16 units; once a message
# is split, each part loses room to the concatenation header (153 and 67).
_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67

# Typographic characters editors and phones slip in; mapped so they do not force UCS-2.
_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)


@dataclass(frozen=True)
class TextStats:
    """How an SMS body is encoded and how many parts (segments) it is billed as."""

    encoding: str
    units: int
    segments: int

    @property
    def is_unicode(self) -> bool:
        return self.encoding == UCS2


def unaccent(text: str) -> str:
    """Strip Vietnamese tone and vowel marks ("Đường Lê Lợi" → "Duong Le Loi").

    Unicode decomposition separates the marks from their letters, but đ/Đ is a letter of its
    own (not d plus a mark), so it is mapped by hand.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_LOOKALIKES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.replace("đ", "d").replace("Đ", "D"))


def is_gsm7(text: str) -> bool:
    """Return True when every character fits the GSM-7 alphabet (with its extension)."""
    return all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text)


def analyse(text: str) -> TextStats:
    """Return the encoding, the length in that encoding's units and the number of parts."""
    if is_gsm7(text):
        units = sum(2 if ch in _GSM7_EXTENSION else 1 for ch in text)
        single, part, encoding = _GSM7_SINGLE, _GSM7_PART, GSM7
    else:
        # UCS-2 as phones really send it: UTF-16, so an emoji takes two units.
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = _UCS2_SINGLE, _UCS2_PART, UCS2
    segments = 1 if units <= single else math.ceil(units / part)
    return TextStats(encoding=encoding, units=units, segments=segments)
