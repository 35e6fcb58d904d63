"""schemathesis against /api/openapi.json on a live server: no 5xx, nothing that contradicts it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import add_site

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent


def test_the_api_keeps_to_its_openapi_document(live_server, app, tmp_path):
    add_site(app, url="http://127.0.0.1")
    server = live_server(workers=2, GUARD="off")
    st = Path(sys.executable).with_name("st")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": str(HERE),
        "NO_COLOR": "1",
    }
    # positive_data_acceptance is left out: the document cannot say which sites or comments
    # exist, so a well-formed request for an unknown site rightly gets 400 or 404.
    command = [
        str(st),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{server.url}/api/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        "60",
        "--seed",
        "20261126",
        "--generation-database",
        "none",
        # The linkback endpoints fetch the URLs they are given: fuzzing them would send the
        # service off to random hosts. Their own tests drive them with real blogs instead.
        "--exclude-path-regex",
        "^/(xmlrpc|webmention)",
    ]
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    failures = result.stdout.split("FAILURES", 1)[-1]
    assert result.returncode == 0, failures[:12000] + result.stderr[-2000:]
    assert "Traceback" not in server.output()


def test_openapi_document_lists_every_api_route(app, client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = set(document["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/xmlrpc", "/webmention", "/healthz")):
            path = rule.rule.replace("<int:comment_id>", "{comment_id}").replace("<key>", "{key}")
            assert path in documented, path
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in document["paths"][path], (path, method)


def test_the_openapi_document_lists_every_error_code(client):
    from commentsvc.errors import ERROR_CODES

    schema = client.get("/api/openapi.json").get_json()["components"]["schemas"]["Error"]
    code = schema["properties"]["error"]["properties"]["code"]
    assert code["enum"] == list(ERROR_CODES)
    for name in ERROR_CODES:
        assert f"`{name}`" in code["description"]


def test_every_uri_in_the_document_carries_the_pattern_the_server_enforces():
    """A client (or schemathesis) reading the document learns a uri is a path without spaces."""
    import re

    from commentsvc.openapi import openapi_document

    document = openapi_document("http://127.0.0.1")
    patterns = [
        parameter["schema"].get("pattern") or parameter["schema"].get("items", {}).get("pattern")
        for operation in _operations(document)
        for parameter in operation.get("parameters", ())
        if parameter["name"] == "uri"
    ]
    schemas = document["components"]["schemas"]
    bodies = [
        schemas[media["schema"]["$ref"].rsplit("/", 1)[-1]]
        for operation in _operations(document)
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    patterns += [
        body["properties"]["uri"].get("pattern")
        for body in bodies
        if "uri" in body.get("properties", {})
    ]
    assert len(patterns) >= 5, patterns
    for pattern in patterns:
        assert pattern, patterns
        assert re.search(pattern, "/blog/post-1?x=1")
        for refused in ("blog/post", "/blog post", "/blog\tpost", "/blog\u00a0post", ""):
            assert not re.search(pattern, refused), (pattern, refused)


def _operations(document):
    return [op for path in document["paths"].values() for op in path.values()]
