"""Test settings: the demo site's, on a Redis database of their own so tests never touch a running demo."""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from project.settings import *  # noqa: F403
from project.settings import DATABASES

# rqworker subprocesses started by tests must open the test database pytest-django created.
if os.environ.get("INSIGHTS_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["INSIGHTS_TEST_DB_NAME"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The test site mounts the webhook URL without a secret, as a site not using webhooks does: commands
# run by the tests would print W101 before their own output. The webhook tests call the check itself.
SILENCED_SYSTEM_CHECKS = ["insights_app.W101"]

# rqworker subprocesses inherit the test's WHEREBY_INSIGHTS (simulator URL, key, fast backoff).
if os.environ.get("INSIGHTS_TEST_SETTINGS_JSON"):
    import json

    WHEREBY_INSIGHTS = json.loads(os.environ["INSIGHTS_TEST_SETTINGS_JSON"])

# A test may start its rqworker subprocesses with another worker class (insights_app.worker).
if os.environ.get("INSIGHTS_TEST_WORKER_CLASS"):
    from project.settings import RQ

    RQ = {**RQ, "WORKER_CLASS": os.environ["INSIGHTS_TEST_WORKER_CLASS"]}
