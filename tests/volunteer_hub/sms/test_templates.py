"""SMS texts: defaults in both languages, placeholders checked, rendering and cost."""

from __future__ import annotations

import pytest

from volunteer_hub.services.messaging import templates
from volunteer_hub.services.messaging.templates import (
    DEFAULTS,
    KINDS,
    TemplateError,
    fill,
    preview,
    render_sms,
    save_template,
    template_errors,
)


def test_every_kind_has_a_valid_default_in_vietnamese_and_english():
    assert set(DEFAULTS) == set(KINDS)
    for kind, texts in DEFAULTS.items():
        assert set(texts) == {"vi", "en"}
        for locale, text in texts.items():
            assert template_errors(kind, text) == [], (kind, locale)
            assert text.startswith("{sender}"), (kind, locale)


def test_the_household_texts_warn_about_otps():
    for kind in ("household_confirmation", "reminder_household_day", "reminder_household_morning"):
        assert "OTP" in DEFAULTS[kind]["vi"] and "OTP" in DEFAULTS[kind]["en"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "cannot be empty"),
        ("Hello {link}", "{sender}"),
        ("{sender}: hello", "{link}"),
        ("{sender}: {link} {nope}", "{nope}"),
        ("{sender}: {link.__class__}", "Unknown placeholder"),
        ("{sender}: {link!r}", "Unknown placeholder"),
        ("{sender}: {link:>20}", "Unknown placeholder"),
        ("{sender}: {link", "Braces"),
        ("{sender}: {link} " + "x" * 1000, "too long"),
    ],
)
def test_wrong_templates_say_what_is_wrong(app, body, expected):
    errors = template_errors("assignment", body)
    assert errors and any(expected in e for e in errors), errors


def test_saving_refuses_wrong_templates(session):
    with pytest.raises(TemplateError):
        save_template(session, "assignment", "vi", "{sender}")
    with pytest.raises(TemplateError):
        save_template(session, "assignment", "fr", "{sender} {link}")
    with pytest.raises(TemplateError):
        save_template(session, "nope", "vi", "{sender} {link}")


def test_rendering_fills_placeholders_and_unaccents_the_whole_text(session, settings):
    body = render_sms(
        session,
        "broadcast",
        "vi",
        {"text": "Trời mưa, mang áo mưa."},
        unaccented=True,
        settings=settings,
    )
    assert body == "Doan TN Hue: Troi mua, mang ao mua."
    kept = render_sms(
        session, "broadcast", "vi", {"text": "Trời mưa"}, unaccented=False, settings=settings
    )
    assert kept == "Đoàn TN Huế: Trời mưa"


def test_fill_collapses_spaces_left_by_empty_values():
    assert fill("{sender}:  {text}\n{link}", {"sender": "A", "text": "b"}) == "A: b"


def test_the_preview_prices_each_part(settings):
    long_text = "{sender}: {text} " + "Thông báo dài. " * 10
    accented = preview("broadcast", "vi", long_text, unaccented=False, settings=settings)
    plain = preview("broadcast", "vi", long_text, unaccented=True, settings=settings)
    assert accented.stats.encoding == "UCS-2" and plain.stats.encoding == "GSM-7"
    assert plain.stats.segments < accented.stats.segments
    assert accented.cost == pytest.approx(accented.stats.segments * settings.price_per_segment)
    assert plain.price_unit == "USD"


def test_the_sample_values_cover_every_placeholder():
    for locale in templates.LOCALES:
        assert set(templates.SAMPLES[locale]) | {"sender"} == set(templates.PLACEHOLDERS)
