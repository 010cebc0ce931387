import pytest
from cryptography.fernet import Fernet

from connector.config import ConfigError, load_settings
from connector.settings_schema import (
    CORE_SCHEMAS,
    SettingsInvalid,
    SettingsStore,
    defaults,
    schema_map,
    validate_document,
)

KEY = Fernet.generate_key().decode()
CORE = schema_map(CORE_SCHEMAS)


def validate(doc):
    return validate_document(doc, CORE)


def test_environment_is_read_once_with_types():
    s = load_settings({"CONNECTOR_SECRET_KEY": "k", "CONNECTOR_ENCRYPTION_KEY": KEY,
                       "CONNECTOR_REST_MAX_RETRIES": "7", "CONNECTOR_JOB_RETRY_INTERVALS": "1, 5",
                       "B24_OAUTH_SERVER": "http://127.0.0.1:9/oauth-server"})
    assert s.rest_max_retries == 7
    assert s.job_retry_intervals == (1, 5)
    assert s.oauth_token_url == "http://127.0.0.1:9/oauth-server/oauth/token/"
    assert s.oauth_rest_url == "http://127.0.0.1:9/oauth-server/rest/"


@pytest.mark.parametrize("env,needle", [
    ({"CONNECTOR_ENCRYPTION_KEY": KEY}, "CONNECTOR_SECRET_KEY"),
    ({"CONNECTOR_SECRET_KEY": "k", "CONNECTOR_ENCRYPTION_KEY": "short"},
     "CONNECTOR_ENCRYPTION_KEY"),
    ({"CONNECTOR_SECRET_KEY": "k", "CONNECTOR_ENCRYPTION_KEY": KEY, "REDIS_URL": "nope"},
     "REDIS_URL"),
    ({"CONNECTOR_SECRET_KEY": "k", "CONNECTOR_ENCRYPTION_KEY": KEY,
      "CONNECTOR_REST_MAX_RETRIES": "many"}, "CONNECTOR_REST_MAX_RETRIES"),
])
def test_bad_configuration_names_the_variable(env, needle):
    with pytest.raises(ConfigError, match=needle):
        load_settings(env)


def test_defaults_fill_every_section():
    doc = defaults(CORE)
    assert doc["general"]["timezone"] == "Europe/Moscow"
    assert doc["general"]["language"] == "auto"
    assert doc["events"]["offline_backup"] is True


@pytest.mark.parametrize("doc,path", [
    ({"nope": {}}, "nope"),
    ({"general": {"timezone": "Mars/Olympus"}}, "general.timezone"),
    ({"general": {"language": "de"}}, "general.language"),
    ({"general": {"admin_user_ids": [1, "2"]}}, "general.admin_user_ids"),
    ({"events": {"drain_every_s": 1}}, "events.drain_every_s"),
    ({"events": {"drain_every_s": True}}, "events.drain_every_s"),
    ({"events": {"typo": 1}}, "events.typo"),
    ([], "$"),
])
def test_invalid_documents_name_the_field(doc, path):
    with pytest.raises(SettingsInvalid) as err:
        validate(doc)
    assert err.value.path == path


def test_store_keeps_old_document_when_new_one_is_invalid(redis):
    store = SettingsStore(redis, "cc", CORE)
    store.put("m1", {"general": {"language": "en"}})
    with pytest.raises(SettingsInvalid):
        store.put("m1", {"general": {"language": "xx"}})
    assert store.get("m1")["general"]["language"] == "en"
