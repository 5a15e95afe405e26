"""The OpenAPI 3.1 description at the root, checked with a real validator."""

import os

import httpx
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator


def test_root_is_a_valid_openapi_3_1_document():
    key = os.environ["ANON_KEY"]
    url = os.environ["POSTGREST_URL"].rstrip("/") + "/"
    res = httpx.get(url, headers={"apikey": key, "Accept": "application/openapi+json"})
    assert res.status_code == 200
    assert res.headers["content-type"] == "application/openapi+json; charset=utf-8"
    spec = res.json()
    validate(spec, cls=OpenAPIV31SpecValidator)
    assert spec["openapi"] == "3.1.0"
    # Tables with the verbs the role's privileges allow (openapi-mode
    # follow-privileges): anon may only read gadgets; the service role may
    # also write them.
    assert set(spec["paths"]["/gadgets"]) == {"get"}
    service = httpx.get(url, headers={"apikey": os.environ["SERVICE_KEY"]}).json()
    assert set(service["paths"]["/gadgets"]) == {"get", "post", "patch", "delete"}
    gadget = spec["components"]["schemas"]["gadgets"]
    assert gadget["required"] == ["id", "name"]
    assert gadget["properties"]["price"]["type"] == ["number", "null"]
    assert gadget["properties"]["tags"]["type"] == "array"
    assert "References makers.id(id)." in gadget["properties"]["maker_id"]["description"]
    # Functions: POST always, GET only when not volatile.
    # (Beside the methods, an `x-function` extension describes the function.)
    def methods(item):
        return {k for k in item if not k.startswith("x-")}

    assert methods(spec["paths"]["/rpc/add_them"]) == {"get", "post"}
    assert methods(spec["paths"]["/rpc/bump"]) == {"post"}
    assert spec["paths"]["/rpc/add_them"]["x-function"]["returns"] == "integer"
    assert gadget["properties"]["maker_id"]["x-references"]["table"] == "makers"
    assert spec["paths"]["/rpc/add_them"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == ["a", "b"]


def test_root_answers_a_browser_with_the_api_page_and_refuses_other_media_types():
    key = os.environ["ANON_KEY"]
    url = os.environ["POSTGREST_URL"].rstrip("/") + "/"
    # A browser (text/html first) gets the page, with no key at all: it holds
    # no schema, and reads the document with the key its reader enters.
    page = httpx.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "gadgets" not in page.text
    res = httpx.get(url, headers={"apikey": key, "Accept": "application/xml"})
    assert res.status_code == 406
