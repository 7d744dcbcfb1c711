"""The public forms at any scale: province, then commune, then hamlet.

A page carries the served provinces, one province's communes and one commune's hamlets; the
next list comes from /places/... (JavaScript) or from sending the form back (without it).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.volunteer_hub.test_intake import form
from tests.volunteer_hub.test_volunteer_signup import signup
from volunteer_hub.models import HelpRequest, Role, Volunteer


@pytest.fixture
def country(session):  # type: ignore[no-untyped-def]
    """Two served provinces (Huế, Đà Nẵng), each with communes and hamlets; one not served."""
    factories.catalogue(session)
    hue = factories.province(session, code="46", name="Thành phố Huế", short_name="Huế")
    dn = factories.province(session, code="48", name="Thành phố Đà Nẵng", short_name="Đà Nẵng")
    off = factories.province(session, code="01", name="Thành phố Hà Nội", short_name="Hà Nội")
    a = factories.commune_world(session, hue, "Phường An Cựu")
    b = factories.commune(session, hue, name="Phường Bến Ngự")
    factories.hamlet(session, b, "Tổ dân phố Bến 1")
    c = factories.commune_world(session, dn, "Phường Hải Châu")
    d = factories.commune(session, dn, name="Phường Sơn Trà")
    factories.hamlet(session, d, "Tổ dân phố Sơn 1")
    x = factories.commune(session, off, name="Phường Hoàn Kiếm")
    factories.hamlet(session, x, "Tổ dân phố Kiếm 1")
    session.commit()
    return SimpleNamespace(hue=hue, dn=dn, off=off, a=a, b=b, c=c, d=d, x=x)


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("path", ["/request", "/volunteer"])
def test_the_page_offers_served_provinces_and_no_commune_before_one_is_chosen(
    client, country, path
):
    body = client.get(path).get_data(as_text=True)
    assert 'name="province"' in body
    assert country.hue.name in body and country.dn.name in body
    assert country.off.name not in body  # nobody coordinates there
    for commune in (country.a.commune, country.b, country.c.commune, country.d, country.x):
        assert commune.name not in body


@pytest.mark.parametrize("path", ["/request", "/volunteer"])
def test_a_chosen_province_carries_only_its_own_communes(client, country, path):
    body = client.get(f"{path}?province=48").get_data(as_text=True)
    assert country.c.commune.name in body and country.d.name in body
    for commune in (country.a.commune, country.b, country.x):
        assert commune.name not in body
    assert "Tổ dân phố Sơn 1" not in body  # hamlets come with their commune


def test_a_poster_link_with_a_commune_opens_its_province_and_hamlets(client, country):
    body = client.get(f"/request?commune={country.d.code}").get_data(as_text=True)
    assert '<option value="48" selected>' in body
    assert f'<option value="{country.d.code}" selected' in body
    assert "Tổ dân phố Sơn 1" in body
    assert country.a.commune.name not in body
    assert "Tổ dân phố Bến 1" not in body


def test_with_one_province_served_the_step_is_skipped(client, world):
    body = client.get("/request").get_data(as_text=True)
    assert '<select id="province"' not in body
    assert f'<input type="hidden" name="province" value="{world.province.code}">' in body
    assert world.a.commune.name in body and world.b.commune.name in body


# --- the JSON lists ---------------------------------------------------------------------------


def test_the_communes_of_a_province_as_json(client, country):
    response = client.get("/places/communes?province=46")
    assert response.status_code == 200
    assert "public" in response.headers["Cache-Control"]
    assert "max-age=3600" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["province"] == {"code": "46", "name": "Thành phố Huế"}
    assert [c["name"] for c in body["communes"]] == ["Phường An Cựu", "Phường Bến Ngự"]
    assert body["communes"][0]["code"] == country.a.commune.code
    assert body["communes"][0]["lat"] == pytest.approx(16.46)


def test_the_hamlets_of_a_commune_as_json(client, country):
    response = client.get(f"/places/hamlets?commune={country.b.code}")
    assert response.status_code == 200
    assert "max-age=3600" in response.headers["Cache-Control"]
    body = response.get_json()
    assert body["commune"]["code"] == country.b.code
    assert [h["name"] for h in body["hamlets"]] == ["Tổ dân phố Bến 1"]
    assert isinstance(body["hamlets"][0]["id"], int)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/places/communes", 400),
        ("/places/communes?province=", 400),
        ("/places/communes?province=4%3B6", 400),
        ("/places/communes?province=123456789", 400),
        ("/places/communes?province=99", 404),
        ("/places/communes?province=01", 404),  # loaded, not served
        ("/places/hamlets", 400),
        ("/places/hamlets?commune=%27or1", 400),
        ("/places/hamlets?commune=99999", 404),
    ],
)
def test_bad_or_unknown_codes_are_refused(client, country, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"]


def test_the_hamlets_of_a_commune_of_an_unserved_province_are_not_found(client, country):
    assert client.get(f"/places/hamlets?commune={country.x.code}").status_code == 404


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_PLACES="2 per minute")
def test_the_lists_are_rate_limited(client, country):
    codes = [client.get("/places/communes?province=46").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- without JavaScript: the form comes back with the next list ------------------------------


def test_the_two_step_form_without_javascript(client, country, session):
    before = _count(session, HelpRequest)
    typed = form(country, commune="", hamlet_id="", province="48", places_step="province")
    response = client.post("/request", data=typed)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert country.c.commune.name in body and country.d.name in body
    assert country.a.commune.name not in body
    assert 'value="Nguyễn Thị Hoa"' in body  # what was typed is kept
    assert "12 kiệt 45 Lê Lợi" in body
    assert _count(session, HelpRequest) == before  # nothing sent yet

    typed.update(commune=country.d.code, places_step="commune")
    body = client.post("/request", data=typed).get_data(as_text=True)
    assert "Tổ dân phố Sơn 1" in body
    assert f'<option value="{country.d.code}" selected' in body
    assert _count(session, HelpRequest) == before

    hamlet = country.d.hamlets[0]
    typed.pop("places_step")
    typed["hamlet_id"] = str(hamlet.id)
    response = client.post("/request", data=typed)
    assert response.status_code == 302
    saved = session.scalars(select(HelpRequest).order_by(HelpRequest.id.desc())).first()
    assert saved.commune_id == country.d.id and saved.hamlet_id == hamlet.id


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_INTAKE="1 per minute")
def test_filling_the_lists_does_not_use_up_the_sending_limit(client, country, session):
    typed = form(country, province="46", places_step="commune")
    for _ in range(3):
        assert client.post("/request", data=typed).status_code == 200
    typed.pop("places_step")
    assert client.post("/request", data=typed).status_code == 302


def test_a_commune_of_another_province_is_a_form_error(client, country, session):
    before = _count(session, HelpRequest)
    response = client.post("/request", data=form(country, province="48"))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="commune-error"' in body
    assert _count(session, HelpRequest) == before


def test_a_hamlet_of_another_commune_is_a_form_error(client, country, session):
    before = _count(session, HelpRequest)
    data = form(country, province="46", hamlet_id=str(country.d.hamlets[0].id))
    response = client.post("/request", data=data)
    assert response.status_code == 422
    assert 'id="hamlet_id-error"' in response.get_data(as_text=True)
    assert _count(session, HelpRequest) == before


@pytest.mark.parametrize("province", ["01", "99", "x" * 50])
def test_a_province_not_served_is_a_form_error(client, country, session, province):
    before = _count(session, HelpRequest)
    response = client.post("/request", data=form(country, province=province))
    assert response.status_code == 422
    assert 'id="province-error"' in response.get_data(as_text=True)
    assert _count(session, HelpRequest) == before


def test_a_post_without_a_province_still_works(client, country, session):
    """Partner apps post the commune alone, as before."""
    data = form(country, commune=country.c.commune.code, hamlet_id=str(country.c.hamlet.id))
    response = client.post("/request", data=data)
    assert response.status_code == 302


def test_the_volunteer_form_checks_the_province_too(client, country, session):
    before = _count(session, Volunteer)
    response = client.post("/volunteer", data=signup(country, province="48"))
    assert response.status_code == 422
    assert 'id="commune-error"' in response.get_data(as_text=True)
    assert _count(session, Volunteer) == before
    wrong_hamlet = signup(country, province="46", hamlet_id=str(country.d.hamlets[0].id))
    response = client.post("/volunteer", data=wrong_hamlet)
    assert response.status_code == 422
    assert 'id="hamlet_id-error"' in response.get_data(as_text=True)
    assert _count(session, Volunteer) == before
    typed = signup(country, commune="", hamlet_id="", province="48", places_step="province")
    body = client.post("/volunteer", data=typed).get_data(as_text=True)
    assert country.d.name in body and country.a.commune.name not in body
    assert 'value="Lê Minh Khôi"' in body
    assert _count(session, Volunteer) == before


def test_the_page_does_not_grow_with_the_country(client, session):
    """The form for one province weighs the same whether 1 or 20 other provinces are served."""
    factories.catalogue(session)
    home = factories.province(session, code="46", name="Thành phố Huế", short_name="Huế")
    first = factories.commune(session, home, name="Phường Một")
    factories.user(session, Role.COORDINATOR, [first])
    for n in range(30):
        factories.hamlet(session, factories.commune(session, home, name=f"Xã Nhà {n}"), "Thôn 1")
    other = factories.province(session, code="P0", name="Tỉnh Khác 0", short_name="Khác 0")
    factories.user(session, Role.COORDINATOR, [factories.commune(session, other)])
    session.commit()
    small = len(client.get("/request?province=46").get_data())
    for n in range(1, 20):
        prov = factories.province(session, code=f"P{n}", name=f"Tỉnh Khác {n}")
        communes = [factories.commune(session, prov, name=f"Xã Xa {n}-{k}") for k in range(40)]
        for com in communes:
            factories.hamlet(session, com, "Thôn Xa")
        factories.user(session, Role.COORDINATOR, communes[:1])
    session.commit()
    body = client.get("/request?province=46").get_data(as_text=True)
    assert "Xã Xa" not in body and "Thôn Xa" not in body
    # Only the 19 new province options were added (well under 100 bytes each).
    assert len(body.encode()) - small < 19 * 100


@pytest.mark.browser
def test_the_lists_follow_the_choices_in_a_browser(live_server, phone_page, country, session):
    page = phone_page
    page.goto(f"{live_server}/request")
    # With JavaScript the "Show..." buttons give way to lists that fill themselves.
    assert page.locator("button[data-nojs]").first.is_hidden()
    province = page.locator("#province")
    assert province.bounding_box()["height"] >= 44
    assert page.locator("#commune option").count() == 1  # only "Choose…"
    province.select_option("48")
    page.locator("#commune").select_option(country.d.code)  # waits for the fetched option
    hamlet = country.d.hamlets[0]
    page.locator("#hamlet_id").select_option(str(hamlet.id))
    names = page.locator("#commune option").all_inner_texts()
    assert country.c.commune.name in names and country.a.commune.name not in names
    assert page.locator("#commune").bounding_box()["height"] >= 44
    # Back to Huế: the communes change, the hamlet choice is cleared.
    province.select_option("46")
    page.locator("#commune").select_option(country.b.code)
    page.locator("#hamlet_id option", has_text="Tổ dân phố Bến 1").wait_for(state="attached")
    assert page.locator("#hamlet_id").input_value() == ""
    assert "Tổ dân phố Sơn 1" not in page.locator("#hamlet_id").inner_text()


@pytest.mark.browser
def test_the_show_buttons_are_big_enough_to_tap(live_server, chromium, country):
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 360, "height": 740}, locale="vi-VN"
    )
    page = context.new_page()
    page.goto(f"{live_server}/request")
    button = page.locator("button[data-nojs][value=province]")
    assert button.bounding_box()["height"] >= 44
    page.locator("#province").select_option("48")
    button.click()
    page.locator("#commune").select_option(country.d.code)
    page.locator("button[data-nojs][value=commune]").click()
    assert "Tổ dân phố Sơn 1" in page.locator("#hamlet_id").inner_text()
    context.close()
