"""Issue 15, item 7: the smaller holes (redirect targets with CR/LF or backslashes)."""

from __future__ import annotations

import pytest

NEXT_VALUES = [
    "/requests\r\nSet-Cookie: evil=1",
    "/\r\n/evil.example",
    "/\n/evil.example",
    "/\\evil.example",
    "/\t/evil.example",
]


@pytest.mark.parametrize("target", NEXT_VALUES)
def test_next_with_control_characters_goes_home(client, target):
    response = client.get("/lang/vi", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Set-Cookie: evil" not in str(response.headers)


@pytest.mark.parametrize("target", NEXT_VALUES)
def test_login_page_with_such_a_next_never_fails(client, target):
    assert client.get("/login", query_string={"next": target}).status_code < 500
