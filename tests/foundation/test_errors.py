"""Error pages in both languages, JSON errors on the API, security headers, no stack traces."""

from tests.conftest import make_app


def test_404_page_in_both_languages(client):
    response = client.get("/no/such/page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and "找不到頁面" in page
    client.post("/language", data={"lang": "en"})
    page = client.get("/no/such/page").get_data(as_text=True)
    assert "Page not found" in page


def test_403_page_names_the_reason(login_as):
    client, _user = login_as("clerk")
    response = client.get("/admin/users")
    assert response.status_code == 403 and "您的角色無法執行此操作" in response.get_data(
        as_text=True
    )


def test_500_shows_a_page_not_a_stack_trace(database_url, instance_path, login_as):
    app = make_app(database_url, instance_path)

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    client = app.test_client()
    client.post(
        "/login",
        data={"username": login_as("clerk")[1].username, "password": "correct-horse-battery"},
    )
    response = client.get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "系統發生錯誤" in page and "secret internals" not in page and "Traceback" not in page


def test_api_errors_are_json(client, login_as):
    assert client.get("/api/v1/me").json == {
        "error": "unauthorized",
        "message": "Sign in or send a valid bearer token",
    }
    signed_in, _user = login_as("clerk")
    response = signed_in.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_security_headers_on_every_response(client):
    for url in ["/login", "/no/such/page", "/api/v1/openapi.json"]:
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers


def test_hsts_when_served_over_https(client):
    response = client.get("/login", base_url="https://citydesk.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
