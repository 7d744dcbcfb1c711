"""Vietnamese first, English second; the catalogs are complete and compiled."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import force_locale

from tools.i18n import problems


def test_every_user_facing_string_is_translated_and_compiled():
    assert problems() == []


def test_pages_are_vietnamese_by_default(client):
    body = client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in body
    assert "Hỗ trợ số tại nhà" in body


def test_a_browser_asking_for_english_still_gets_vietnamese(client):
    body = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Hỗ trợ số tại nhà" in body


def test_the_language_switch_sticks(client):
    switched = client.get("/lang/en?next=/login")
    assert switched.status_code == 302
    assert switched.headers["Location"].endswith("/login")
    assert "lang=en" in switched.headers["Set-Cookie"]
    assert "Digital help at home" in client.get("/").get_data(as_text=True)
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    client.get("/lang/vi")
    assert "Hỗ trợ số tại nhà" in client.get("/").get_data(as_text=True)


def test_the_language_switch_never_redirects_elsewhere(client):
    for target in ("https://evil.example", "//evil.example", "javascript:alert(1)"):
        response = client.get("/lang/en", query_string={"next": target})
        assert response.headers["Location"] in ("/", "http://localhost/")


def test_an_unknown_language_is_ignored(client):
    response = client.get("/lang/xx")
    assert "Set-Cookie" not in response.headers


def test_dates_and_numbers_follow_the_locale(app):
    from flask_babel import format_datetime, format_decimal

    moment = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)  # 07:30 in Huế
    with app.test_request_context("/"):
        with force_locale("vi"):
            assert "07:30" in format_datetime(moment, "short")
            assert format_decimal(1234.5) == "1.234,5"
        with force_locale("en"):
            assert format_decimal(1234.5) == "1,234.5"
