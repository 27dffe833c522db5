"""Who may open the dashboard, on the shared gateway process: nothing without an admin
token, everything with one (Bearer header or the login form's cookie); a bad window is 400."""

from __future__ import annotations

import httpx
import pytest

from router.gateway.admin import AdminTokens

PATHS = ["/dashboard", *(f"/dashboard/api/{name}" for name in ("tiers", "latency", "traffic", "efficient",
                                                                "changelog"))]


@pytest.fixture(scope="module")
def admin_token(gateway):
    tokens = AdminTokens(gateway.db)
    try:
        yield tokens.create("tests")
    finally:
        tokens.close()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer ata-not-a-token"}, {"authorization": "Basic eDp5"},
                                     {"cookie": "autotier_admin=ata-not-a-token"}], ids=["none", "wrong", "basic",
                                                                                          "wrong-cookie"])
def test_every_path_needs_an_admin_token(gateway, path, headers):
    r = httpx.get(gateway.url + path, headers=headers, timeout=30)
    assert r.status_code == 401
    assert r.headers["cache-control"] == "no-store"
    if path.startswith("/dashboard/api/"):
        assert r.json()["error"]["code"] == "admin_token_required"
    else:
        assert 'name="token"' in r.text  # the login form


@pytest.mark.parametrize("path", PATHS)
def test_a_bearer_token_opens_every_path(gateway, admin_token, path):
    r = httpx.get(gateway.url + path, headers={"authorization": f"Bearer {admin_token}"}, timeout=30)
    assert r.status_code == 200, r.text
    if path == "/dashboard":
        assert all(f'id="{section}"' in r.text for section in ("overview", "efficient", "changelog"))
    else:
        assert isinstance(r.json(), dict)


def test_the_login_form_sets_an_http_only_cookie_scoped_to_the_dashboard(gateway, admin_token):
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        wrong = client.post("/dashboard/login", data={"token": "ata-nope"})
        assert wrong.status_code == 401 and "not valid" in wrong.text and not client.cookies
        r = client.post("/dashboard/login", data={"token": admin_token})
        assert r.status_code == 303 and r.headers["location"] == "/dashboard"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
        assert client.get("/dashboard?window=7d").status_code == 200
        assert client.get("/dashboard/api/tiers?window=1h").status_code == 200
        client.post("/dashboard/logout")
        assert client.get("/dashboard").status_code == 401


@pytest.mark.parametrize("window", ["2h", "", "1d"])
def test_an_unknown_window_is_400(gateway, admin_token, window):
    r = httpx.get(gateway.url + "/dashboard/api/tiers", params={"window": window},
                  headers={"authorization": f"Bearer {admin_token}"}, timeout=30)
    assert r.status_code == 400 and "1h, 24h, 7d" in r.json()["error"]["message"]
