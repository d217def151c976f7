"""The browser machinery itself: Chromium starts, the admin login works."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_user_logs_in_and_sees_the_admin_index(page, login, make_staff_user):
    login(make_staff_user("alice", superuser=True))
    assert page.locator("#site-name").is_visible()
    assert page.console_errors == []
