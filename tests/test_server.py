"""How gunicorn serves commentsvc (commentsvc.server): the settings, and the private access log."""

from commentsvc.server import PrivateLogger
from commentsvc.server import gunicorn_options


def test_the_options_bind_the_address_with_threads_and_no_control_socket():
    options = gunicorn_options("127.0.0.1", 8080, 3)
    assert options["bind"] == "127.0.0.1:8080" and options["workers"] == 3
    assert options["worker_class"] == "gthread" and options["threads"] >= 1
    assert options["logger_class"] is PrivateLogger
    assert options["control_socket_disable"] is True  # several services share one host


def test_an_ipv6_host_is_bound_in_brackets():
    assert gunicorn_options("::1", 8080, 1)["bind"] == "[::1]:8080"
