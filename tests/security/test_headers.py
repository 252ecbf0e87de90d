"""Security headers on every kind of response: pages of every blueprint, API JSON, API
errors, static files, error pages, redirects, downloads; HSTS only over HTTPS."""

import pytest

from models.core import clock


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = [w.lower() for w in words[1:]]
    return directives


def assert_secure_headers(response, what: str, *, https: bool = False) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy")
    assert csp, f"{what}: no Content-Security-Policy"
    directives = csp_directives(csp)
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, f"{what}: CSP sets no script-src nor default-src"
    assert "'unsafe-inline'" not in scripts, f"{what}: inline scripts allowed"
    assert "'unsafe-eval'" not in scripts, f"{what}: eval allowed"
    assert "*" not in scripts and "http:" not in scripts and "https:" not in scripts, what
    assert directives.get("object-src") == ["'none'"], f"{what}: plugins allowed"
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    framing = headers.get("X-Frame-Options", "").upper() in ("DENY", "SAMEORIGIN")
    assert framing or "frame-ancestors" in directives, f"{what}: may be framed"
    assert directives.get("frame-ancestors") == ["'none'"], f"{what}: frame-ancestors"
    assert headers.get("Referrer-Policy") in (
        "same-origin",
        "no-referrer",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ), f"{what}: Referrer-Policy {headers.get('Referrer-Policy')}"
    hsts = headers.get("Strict-Transport-Security")
    if https:
        assert hsts and "max-age=31536000" in hsts, f"{what}: no HSTS over HTTPS"
    else:
        assert hsts is None, f"{what}: HSTS over plain HTTP"


ANONYMOUS = [
    ("/login", 200),
    ("/", 302),  # redirect to sign in
    ("/desk/board", 302),
    ("/static/css/citydesk.css", 200),
    ("/static/js/live.js", 200),
    ("/static/favicon.svg", 200),
    ("/no-such-page", 404),
    ("/api/v1/openapi.json", 200),
    ("/api/v1/me", 401),
    ("/api/v1/no-such", 404),
]


def _year():
    return clock.now().year


SIGNED_IN = {
    "clerk": [
        "/",
        "/desk/board",
        "/desk/today",
        "/desk/dispatches",
        "/desk/visits/new",
        "/notifications",
        "/facility/report",
        "/facility/mine",
        "/reports/",
        "/reports/{year}",
        "/reports/{year}/dispatches",
        "/reports/{year}/report.csv",
        "/api/v1/dispatches",
        "/api/v1/me",
        "/admin/users",
    ],
    "agency": [
        "/agency/",
        "/agency/history",
        "/api/v1/dispatches/open",
        "/agency/dispatches/999999",
        "/desk/board",
    ],
    "facility": [
        "/facility/tickets",
        "/facility/grid",
        "/facility/rounds",
        "/api/v1/defects",
        "/api/v1/rounds/schedule",
        "/facility/photos/999999",
    ],
    "supervisor": [
        "/admin/audit",
        "/admin/settings",
        "/facility/settings",
        "/facility/calendar",
        "/facility/posters",
        "/facility/posters/northeast/3F.svg",
        "/reports/{year}/defects",
    ],
    "admin": [
        "/admin/users",
        "/admin/agencies",
        "/admin/tokens",
        "/admin/building",
        "/admin/jobs/",
        "/admin/import",
    ],
}


@pytest.mark.parametrize(("url", "status"), ANONYMOUS)
def test_headers_anonymous(client, url, status):
    """Static files, the sign-in page, redirects, 401/404 JSON and HTML errors."""
    with client.get(url) as response:  # closes a static file's handle
        assert response.status_code == status, url
        assert_secure_headers(response, url)


@pytest.mark.parametrize("role", sorted(SIGNED_IN))
def test_headers_signed_in(login_as, role):
    """A sample of every blueprint's pages, API responses, downloads and 403/404s."""
    client, _user = login_as(role)
    statuses = set()
    for template in SIGNED_IN[role]:
        url = template.format(year=_year())
        with client.get(url) as response:
            statuses.add(response.status_code)
            assert response.status_code < 500, url
            assert_secure_headers(response, f"{role} {url}")
            assert response.headers.get("Cache-Control") == "no-store", f"{role} {url}"
    if role in ("clerk", "agency"):
        assert 403 in statuses  # an error page is in the sample
    if role == "facility":
        assert 404 in statuses


def test_headers_on_posts_redirects_and_405(login_as):
    """A form post's redirect, a 405 and a validation error carry the headers too."""
    client, _user = login_as("clerk")
    redirect = client.post("/notifications/read-all")
    assert redirect.status_code == 302
    assert_secure_headers(redirect, "POST redirect")
    wrong = client.put("/login")
    assert wrong.status_code == 405
    assert_secure_headers(wrong, "405")
    invalid = client.post("/api/v1/visits", json={})
    assert invalid.status_code in (400, 422)
    assert_secure_headers(invalid, "API validation error")


def test_headers_on_a_server_error(database_url, instance_path):
    """An unexpected exception's 500 page carries the headers too."""
    from tests.conftest import make_app

    app = make_app(database_url, instance_path, PROPAGATE_EXCEPTIONS=False, TESTING=False)

    @app.route("/boom-headers")
    def boom():
        raise RuntimeError("boom")

    from webapp.security import PUBLIC_ENDPOINTS

    PUBLIC_ENDPOINTS.add("boom")
    try:
        response = app.test_client().get("/boom-headers")
    finally:
        PUBLIC_ENDPOINTS.discard("boom")
    assert response.status_code == 500
    assert_secure_headers(response, "500")


@pytest.mark.parametrize("url", ["/login", "/static/css/citydesk.css", "/api/v1/me", "/nope"])
def test_hsts_over_https(client, url):
    """Served over HTTPS (request.is_secure): HSTS for a year, on pages, static and errors."""
    with client.get(url, base_url="https://localhost") as response:
        assert_secure_headers(response, f"https {url}", https=True)


def test_hsts_with_secure_cookies(database_url, instance_path):
    """Behind a TLS proxy (SESSION_COOKIE_SECURE on) HSTS is sent as well."""
    from tests.conftest import make_app

    app = make_app(database_url, instance_path, SESSION_COOKIE_SECURE=True)
    response = app.test_client().get("/login")
    assert_secure_headers(response, "secure cookies", https=True)


def test_headers_from_the_real_server(live_server, create_user):
    """The headers survive the real WSGI server (waitress), pages and static files."""
    import http.cookiejar
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    for path in ("/login", "/static/js/live.js", "/no-such-page"):
        try:
            response = opener.open(live_server + path, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            response.read()
            assert_secure_headers(response, f"live {path}")


def test_no_third_party_assets(login_as):
    """No CDN: every script, stylesheet and image a page loads is our own (the CSP's
    'self' would block anything else in the browser, this catches it in the templates)."""
    import re

    client, _user = login_as("supervisor")
    pattern = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="([^"]+)"', re.I)
    seen = 0
    for url in ("/", "/desk/board", "/facility/tickets", "/reports/", "/admin/audit"):
        page = client.get(url).get_data(as_text=True)
        for ref in pattern.findall(page):
            seen += 1
            assert ref.startswith("/") and not ref.startswith("//"), f"{url} loads {ref}"
    assert seen > 0, "no assets found: the pattern is broken"
