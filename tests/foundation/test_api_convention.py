"""The one API convention (webapp.api.convention), pinned on the OpenAPI document and on the
answers: one error schema for every error response, one pagination shape for every list."""

import pytest

from models.core.text import MAX_ID
from webapp.api.convention import MAX_PER_PAGE

ERROR_REF = "#/components/schemas/ApiError"
PAGE_FIELDS = {"items", "total", "page", "per_page"}
# The lists answered a page at a time.
PAGED = {"/api/v1/dispatches", "/api/v1/defects", "/api/v1/rounds"}
# Lists that are whole by nature, each answered in one piece, and why.
WHOLE = {
    "/api/v1/dispatches/open": "the live board: every open dispatch, polled every 2 seconds",
    "/api/v1/defects/similar": "the open tickets at one place and category",
    "/api/v1/rounds/schedule": "one row per active zone",
}


def operations(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def resolve(doc, node: dict) -> dict:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = doc["components"][kind][name]
    return node


def response_schema(doc, response: dict) -> dict:
    """The JSON schema node (possibly a $ref) of a response."""
    return resolve(doc, response)["content"]["application/json"]["schema"]


def test_every_error_response_refers_to_the_one_error_schema(doc):
    checked = 0
    for path, method, operation in operations(doc):
        assert path.startswith("/api/v1/"), path
        responses = operation["responses"]
        assert "401" in responses, f"{method} {path}: every call needs a session or a token"
        for status, response in responses.items():
            if status == "default" or int(status) >= 400:
                schema = response_schema(doc, response)
                assert schema == {"$ref": ERROR_REF}, f"{method} {path} {status}: {schema}"
                checked += 1
    assert checked > 50
    error = doc["components"]["schemas"]["ApiError"]
    assert set(error["required"]) == {"error", "message"}
    others = [
        name
        for name, schema in doc["components"]["schemas"].items()
        if name != "ApiError" and {"error", "message"} <= set(schema.get("properties", {}))
    ]
    assert others == [], "a second error schema"


def test_every_list_endpoint_answers_in_the_one_page_shape(doc):
    paged = set()
    for path, method, operation in operations(doc):
        if method != "get":
            continue
        body = resolve(doc, response_schema(doc, operation["responses"]["200"]))
        assert body.get("type") != "array", f"GET {path}: a bare list (answer a page)"
        parameters = {p["name"]: p for p in operation.get("parameters", [])}
        if "page" not in parameters:
            is_list = "items" in body.get("properties", {})
            assert not is_list or path in WHOLE, f"GET {path}: a list with no pages"
            continue
        paged.add(path)
        assert set(body["required"]) >= PAGE_FIELDS, path
        assert body["properties"]["items"]["type"] == "array", path
        page, per_page = parameters["page"]["schema"], parameters["per_page"]["schema"]
        assert (page["minimum"], page["maximum"]) == (1, MAX_ID), path
        assert (per_page["minimum"], per_page["maximum"]) == (1, MAX_PER_PAGE), path
    assert paged == PAGED


@pytest.mark.parametrize("path", sorted(PAGED))
def test_page_numbers_stop_at_max_id(client, supervisor_headers, path):
    first = client.get(path, headers=supervisor_headers)
    assert first.status_code == 200
    assert first.get_json() == {"items": [], "total": 0, "page": 1, "per_page": 50}
    last = client.get(f"{path}?page={MAX_ID}&per_page={MAX_PER_PAGE}", headers=supervisor_headers)
    assert last.status_code == 200
    assert last.get_json() == {"items": [], "total": 0, "page": MAX_ID, "per_page": MAX_PER_PAGE}
    for query in (f"page={MAX_ID + 1}", "page=0", f"per_page={MAX_PER_PAGE + 1}", "per_page=0"):
        response = client.get(f"{path}?{query}", headers=supervisor_headers)
        assert response.status_code == 422, query
        assert response.get_json()["error"] == "invalid"
