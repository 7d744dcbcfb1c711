"""Encoding, parts and unaccenting: what an SMS costs in Vietnam."""

from __future__ import annotations

from volunteer_hub.sms.text import GSM7, UCS2, analyse, unaccent


def test_unaccenting_strips_tone_marks_and_maps_d_with_stroke():
    assert unaccent("Đường Lê Lợi, phường Thuận Hóa") == "Duong Le Loi, phuong Thuan Hoa"
    assert unaccent("Ưu tiên người cao tuổi") == "Uu tien nguoi cao tuoi"
    assert unaccent("đồng ý") == "dong y"


def test_unaccenting_replaces_typographic_quotes_and_dashes():
    assert unaccent("“Đợt 1” – sáng…") == '"Dot 1" - sang...'


def test_plain_ascii_is_gsm7_and_fits_160_characters_in_one_part():
    assert analyse("a" * 160) == analyse("a" * 160)
    stats = analyse("a" * 160)
    assert (stats.encoding, stats.units, stats.segments) == (GSM7, 160, 1)
    assert analyse("a" * 161).segments == 2
    assert analyse("a" * 306).segments == 2
    assert analyse("a" * 307).segments == 3


def test_one_vietnamese_letter_switches_the_whole_message_to_ucs2():
    stats = analyse("Xin chao " + "ư")
    assert stats.encoding == UCS2
    assert analyse("ư" * 70).segments == 1
    assert analyse("ư" * 71).segments == 2
    assert analyse("ư" * 134).segments == 2
    assert analyse("ư" * 135).segments == 3


def test_gsm7_extension_characters_count_twice():
    stats = analyse("€" * 80)
    assert stats.encoding == GSM7
    assert stats.units == 160
    assert analyse("€" * 81).segments == 2


def test_unaccenting_halves_the_cost_of_a_typical_message():
    text = (
        "Đoàn TN: Tình nguyện viên Lan, Huy sẽ đến nhà hỗ trợ Thứ Bảy 28/11, khoảng "
        "08:00-09:00. Xin chuẩn bị CCCD gắn chip, điện thoại, SIM chính chủ."
    )
    accented, plain = analyse(text), analyse(unaccent(text))
    assert accented.encoding == UCS2 and plain.encoding == GSM7
    assert plain.segments < accented.segments


def test_emoji_take_two_ucs2_units():
    assert analyse("🙂").units == 2
