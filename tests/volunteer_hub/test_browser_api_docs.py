"""/api/docs in a real browser: every operation of the document is shown, with no CDN and no
inline code (the page's policy allows only its own origin)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def operations(client) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    spec = client.get("/api/v1/openapi.json").get_json()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


def test_the_reference_page_renders_every_operation_from_this_origin_only(
    live_server, chromium, client, artifacts
):
    wanted = operations(client)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    elsewhere: list[str] = []
    violations: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith(live_server) else elsewhere.append(r.url),
    )
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server}/api/docs")
    page.get_by_role("heading", name="Tài liệu API").wait_for()
    page.locator(".opblock").first.wait_for()
    shown = [
        (
            block.locator(".opblock-summary-method").inner_text().strip(),
            block.locator(".opblock-summary-path").get_attribute("data-path"),
        )
        for block in page.locator(".opblock").all()
    ]
    assert sorted(shown) == sorted(wanted)
    # One operation opens with its parameters and answers.
    page.locator("#operations-default-updateDrive .opblock-summary").first.click()
    page.get_by_text("If-Match", exact=True).first.wait_for()
    assert page.locator("#operations-default-updateDrive .response[data-code='412']").count() == 1
    page.screenshot(path=str(artifacts / "api-docs.png"), full_page=False)
    assert elsewhere == [], elsewhere
    # Swagger UI's CSS icons (and base.html's empty favicon) are data: images, which the
    # policy refuses; no script, style or fetch is refused, so the page works as designed.
    assert violations and all(
        "Loading the image 'data:" in v and "\"img-src 'self'\"" in v for v in violations
    ), violations
    context.close()


def test_the_page_and_its_assets_carry_a_self_only_policy(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "data:" not in policy and "http" not in policy
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "cdn" not in html.lower()
    with client.get("/api/docs/assets/swagger-ui-bundle.js") as script:
        assert script.status_code == 200 and b"SwaggerUIBundle" in script.data
        assert "max-age" in script.headers["Cache-Control"]
    assert client.get("/api/docs/assets/swagger-editor-bundle.js").status_code == 404
    assert client.get("/api/docs/assets/..%2Fcore.py").status_code == 404


def test_the_reference_reads_on_a_phone(live_server, phone_390, artifacts):
    phone_390.goto(f"{live_server}/api/docs")
    phone_390.locator(".opblock").first.wait_for()
    phone_390.screenshot(path=str(artifacts / "api-docs-390.png"), full_page=False)
    width = phone_390.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
