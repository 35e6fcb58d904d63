"""One error hierarchy: each error's HTTP status, stable code and Pingback fault, in one table."""

import xmlrpc.client

import pytest

from commentsvc import create_app
from commentsvc import errors

TABLE = [
    # error, HTTP status, code, Pingback fault
    (errors.ValidationError, 400, "invalid", 0),
    (errors.InvalidSource, 400, "invalid", 0x10),
    (errors.InvalidTarget, 400, "invalid", 0x20),
    (errors.SourceNotFound, 400, "source_not_found", 0x10),
    (errors.NoLinkToTarget, 400, "no_link", 0x11),
    (errors.TargetNotFound, 400, "target_not_found", 0x20),
    (errors.TargetNotAccepted, 400, "target_not_accepted", 0x21),
    (errors.AlreadyRegistered, 409, "already_registered", 0x30),
    (errors.Forbidden, 403, "forbidden", 0x31),
    (errors.SourceNotAllowed, 400, "source_not_allowed", 0x31),
    (errors.UpstreamError, 502, "upstream_error", 0x32),
    (errors.NotFound, 404, "not_found", 0),
]


@pytest.mark.parametrize(("error", "status", "code", "fault"), TABLE)
def test_each_error_has_one_status_code_and_fault(error, status, code, fault):
    instance = error("Some words.", field="source")
    assert isinstance(instance, errors.ServiceError)
    assert (instance.status, instance.code, instance.fault) == (status, code, fault)
    assert instance.to_dict() == {
        "error": {"code": code, "message": "Some words.", "field": "source"}
    }


def test_a_rate_limit_is_429_with_retry_after_and_fault_0x31(app):
    limited = errors.RateLimited("Slow down.", retry_after=60)
    assert (limited.status, limited.code, limited.fault, limited.retry_after) == (
        429,
        "rate_limited",
        0x31,
        60,
    )

    @app.get("/limited")
    def limited_view():
        raise limited

    response = app.test_client().get("/limited")
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"


def test_linkback_refusals_are_service_errors_with_faults():
    """No second error system: every refusal that receive raises comes from errors.py."""
    from commentsvc.linkbacks import receive

    assert not hasattr(receive, "LinkbackError")
    for fault, error in receive.VERIFY_FAILURES.items():
        assert issubclass(error, errors.ServiceError) and error.fault == fault


PING = xmlrpc.client.dumps(
    ("https://a.example/p", "https://blog.example.org/post/1"), "pingback.ping"
)


def _fault_of(response) -> int:
    assert response.mimetype == "text/xml", response.get_data(as_text=True)
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(response.get_data())
    assert "Traceback" not in info.value.faultString
    return info.value.faultCode


def test_every_error_answer_of_xmlrpc_is_a_fault_with_its_http_status(app, client, tmp_path):
    # What the client sent: a transport error, the status kept (405 keeps its Allow header).
    wrong_method = client.get("/xmlrpc")
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["Allow"]
    assert _fault_of(wrong_method) == errors.XMLRPC_TRANSPORT_ERROR
    packed = client.post("/xmlrpc", data=PING, headers={"Content-Encoding": "gzip"})
    assert packed.status_code == 415 and _fault_of(packed) == errors.XMLRPC_TRANSPORT_ERROR
    huge = client.post("/xmlrpc", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    assert huge.status_code == 413 and _fault_of(huge) < 0

    # The service's own trouble: an application error; a database that does not answer, 503.
    def broken():
        raise RuntimeError("a bug")

    app.view_functions["linkbacks.xmlrpc_endpoint"] = broken
    failed = client.post("/xmlrpc", data=PING)
    assert failed.status_code == 500 and _fault_of(failed) == errors.XMLRPC_APPLICATION_ERROR
    url = f"sqlite:///{tmp_path / 'missing' / 'comments.db'}"
    down = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": url}).test_client()
    unavailable = down.post("/xmlrpc", data=PING)
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"]
    assert _fault_of(unavailable) == errors.XMLRPC_APPLICATION_ERROR
    # Everywhere else, errors stay JSON.
    assert down.get("/api/counts?site=blog&uri=/p").get_json()["error"]["code"] == "unavailable"
