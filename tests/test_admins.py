"""Admin accounts, logins and sessions (commentsvc.admins)."""

from datetime import datetime
from datetime import timedelta

import pytest

from commentsvc import admins
from commentsvc.errors import ValidationError

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 1, 1, 12, 0)


@pytest.mark.usefixtures("app_ctx")
def test_an_admin_logs_in_with_the_right_password_only():
    admins.add_admin("ann", PASSWORD)
    assert admins.check_login("ann", PASSWORD).username == "ann"
    assert admins.check_login("ann", PASSWORD + "!") is None
    assert admins.check_login("nobody", PASSWORD) is None
    assert admins.check_login("a\x00nn", PASSWORD) is None
    assert [a.username for a in admins.list_admins()] == ["ann"]


@pytest.mark.usefixtures("app_ctx")
def test_names_and_passwords_are_checked():
    admins.add_admin("ann", PASSWORD)
    for name, password, field in (("ann", PASSWORD, "username"), ("bo", "short", "password")):
        with pytest.raises(ValidationError) as caught:
            admins.add_admin(name, password)
        assert caught.value.field == field


@pytest.mark.usefixtures("app_ctx")
def test_a_session_is_found_until_it_ends_and_a_new_password_ends_the_others():
    admin = admins.add_admin("ann", PASSWORD)
    token, _csrf = admins.start_session(admin, NOW)
    assert admins.find_session(token, NOW + timedelta(minutes=5)).admin_id == admin.id
    assert admins.find_session("forged", NOW) is None
    admins.set_password("ann", PASSWORD + " again")
    assert admins.find_session(token, NOW) is None
    token, _csrf = admins.start_session(admin, NOW)
    admins.end_session(token)
    assert admins.find_session(token, NOW) is None


@pytest.mark.usefixtures("app_ctx")
def test_failed_logins_slow_the_address_but_never_a_known_one(app):
    limiter = app.extensions["limiter"]
    admins.login_succeeded(limiter, "198.51.100.7", "ann")  # the owner's usual address
    for _ in range(admins.LOGIN_FREE_FAILURES + 1):
        admins.login_failed(limiter, "203.0.113.9", "ann", trusted=False)
    assert admins.login_wait(limiter, "203.0.113.9", "ann", trusted=False) > 0
    assert admins.login_wait(limiter, "198.51.100.7", "ann", trusted=False) == 0
    assert admins.login_wait(limiter, "192.0.2.1", "ann", trusted=True) == 0
