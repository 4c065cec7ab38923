from __future__ import annotations

import pytest

from syncclients import UsageError
from syncclients.http.auth import APIKeyAuth
from syncclients.services import AdaptorServiceClient, ModelOrchestratorClient, ServiceSettings


def test_keyword_arguments_drop_trailing_slash_and_keep_base_path() -> None:
    s = ServiceSettings(urls={"cache": "http://cache:8080/base/"}, tenant_id="t")
    assert s.url_for("cache") == "http://cache:8080/base"


def test_from_dict_nested_and_dotted() -> None:
    s = ServiceSettings.from_dict(
        {
            "external_services": {"model_orchestrator_url": "http://mo:1"},
            "external_services.cache_url": "http://c:2",
            "tenant_id": "acme",
            "timeout_s": 12,
            "fallback": True,
        }
    )
    assert s.urls == {"model_orchestrator": "http://mo:1", "cache": "http://c:2"}
    assert (s.tenant_id, s.timeout_s, s.fallback) == ("acme", 12.0, True)


def test_from_env() -> None:
    env = {
        "EXTERNAL_SERVICES__ANALYTICS_ENGINE_URL": "http://an:3/",
        "SERVICES_TENANT_ID": "t9",
        "SERVICES_API_KEY": "k-secret",
        "SERVICES_FALLBACK": "true",
        "UNRELATED": "x",
    }
    s = ServiceSettings.from_env(env)
    assert s.urls == {"analytics_engine": "http://an:3"}
    assert s.tenant_id == "t9" and s.fallback is True
    assert "k-secret" not in repr(s)


def test_missing_url_and_bad_values_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"external_services\.cache_url"):
        ServiceSettings().url_for("cache")
    with pytest.raises(UsageError):
        ServiceSettings(urls={"cache": "not-a-url"})
    with pytest.raises(UsageError):
        ServiceSettings(timeout_s=0)


def test_from_settings_builds_each_client() -> None:
    s = ServiceSettings(
        urls={"model_orchestrator": "http://mo:1", "adaptor_service": "http://c:2"},
        tenant_id="acme",
        api_key="k-secret",
        fallback=True,
    )
    with ModelOrchestratorClient.from_settings(s) as mo:
        assert mo.tenant_id == "acme" and mo.fallback is True
        assert isinstance(mo.http.auth, APIKeyAuth)
        assert "k-secret" not in repr(mo) + repr(mo.http)
    with AdaptorServiceClient.from_settings(s, tenant_id="other") as cache:
        assert cache.tenant_id == "other"
