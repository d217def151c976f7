"""The app's settings dict: defaults, overrides, cache invalidation, masking."""

from insights_app.conf import DEFAULTS, get_settings, unknown_setting_keys


def test_defaults_apply_when_site_sets_nothing(settings):
    settings.WHEREBY_INSIGHTS = {}
    conf = get_settings()
    assert conf.BASE_URL == "https://api.whereby.dev/v1"
    assert conf.PAGE_SIZE == 100
    assert DEFAULTS["PLAN_POINTS_PER_MINUTE"] == conf.RATE_BUDGET_POINTS_PER_MINUTE == "auto"
    assert conf.RATE_BUDGET_SHARE == 0.5


def test_site_values_override_defaults_and_cache_clears_on_change(settings):
    settings.WHEREBY_INSIGHTS = {"PAGE_SIZE": 50}
    assert get_settings().PAGE_SIZE == 50
    settings.WHEREBY_INSIGHTS = {"PAGE_SIZE": 20}
    assert get_settings().PAGE_SIZE == 20


def test_api_key_is_masked_in_the_printable_copy(settings):
    settings.WHEREBY_INSIGHTS = {"API_KEY": "very-secret-key-123"}
    assert get_settings().API_KEY == "very-secret-key-123"
    assert "very-secret-key-123" not in repr(get_settings().as_dict())


def test_unknown_keys_are_reported(settings):
    settings.WHEREBY_INSIGHTS = {"PAGE_SIZ": 5, "QUEUE": "q"}
    assert unknown_setting_keys() == ["PAGE_SIZ"]
