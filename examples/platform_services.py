"""The platform service clients against the bundled reference server.

Run:  python examples/platform_services.py

(Not ``platform.py``: a script of that name in examples/ would shadow the standard library
module ``platform`` for every example run from that folder.)

Starts syncclients.testing.PlatformServer on 127.0.0.1 (an ephemeral port), points every
``external_services.<service>_url`` at it, and calls each client once: intent and
sentiment, an integration's life, a token check and an authorization decision (the second
one from the decision cache), a cache round trip, analytics events tracked from threads and
flushed on close, a tool call over the gateway's REST wire found through discovery, and an
operation of the platform's own OpenAPI document. Then it injects a fault to show an opt-in
fallback that says it is one.
"""

from __future__ import annotations

import threading

from syncclients.services import (
    AdaptorServiceClient,
    AnalyticsClient,
    CacheClient,
    ModelOrchestratorClient,
    NetworkMCPClient,
    OpenAPIClient,
    SecurityHubClient,
    ServiceSettings,
    StaticDiscovery,
    platform_openapi,
)
from syncclients.testing import LocalHTTPServer, PlatformServer, Reply


def main() -> int:
    with PlatformServer() as server:
        server.tokens["demo-token"] = {
            "subject": "alice",
            "tenant_id": "acme",
            "scopes": ["read"],
            "expires_at": None,
        }
        server.grants.add(("alice", "read", "report:7"))
        names = (
            "model_orchestrator",
            "adaptor_service",
            "security_hub",
            "analytics_engine",
            "cache",
        )
        settings = ServiceSettings.from_dict(
            {"external_services": {f"{n}_url": server.url for n in names}, "tenant_id": "acme"}
        )

        with ModelOrchestratorClient.from_settings(settings) as models:
            intent = models.detect_intent("hello I need my invoice")
            mood = models.analyze_sentiment("I love this product")
            print(f"intent: {intent.intent} ({intent.confidence:.2f}); sentiment: {mood.sentiment}")

        with AdaptorServiceClient.from_settings(settings) as adaptor:
            iid = adaptor.create_integration({"name": "crm", "category": "sales"}).data[
                "integration_id"
            ]
            run = adaptor.execute_integration(
                iid, endpoint="https://crm.example/api", input_data={"q": 1}
            )
            print(f"integration {iid}: executed, success={run.success}, status={run.status_code}")
            adaptor.delete_integration(iid)

        with SecurityHubClient.from_settings(settings) as hub:
            token = hub.validate_token("demo-token")
            first = hub.authorize("alice", "read", "report:7")
            again = hub.authorize("alice", "read", "report:7")
            print(
                f"token valid={token.valid} for {token.subject}; "
                f"allowed={first.allowed}, second decision cached={again.cached}"
            )

        with CacheClient.from_settings(settings, near_cache_size=100) as cache:
            value = cache.get_or_set("report:7", lambda: {"rows": 42}, ttl_s=60)
            print(f"cache: {value}, near hit={cache.lookup('report:7').near}")

        analytics = AnalyticsClient.from_settings(settings, flush_interval_s=0.2)
        workers = [
            threading.Thread(target=lambda: [analytics.track("page_view") for _ in range(250)])
            for _ in range(4)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        analytics.close()  # flushes what is buffered
        m = analytics.metrics()
        print(f"analytics: tracked={m.tracked} delivered={m.delivered} dropped={m.dropped}")

        with LocalHTTPServer() as gateway:
            gateway.routes[("POST", "/tool/store_input")] = lambda r: Reply(
                200, {"status": "stored"}
            )
            discovery = StaticDiscovery({"memory": gateway.url})
            with NetworkMCPClient(discovery, default_wire="rest") as net:
                stored = net.call_tool(
                    "memory", "store_input", {"user_id": "u1", "input_data": "hi"}
                )
                print(f"network tool via discovery: {stored.data}")

        with OpenAPIClient.from_spec(platform_openapi(), server.url) as api:
            print(f"OpenAPI model_status: {api.model_status()['data']}")

        server.add_fault("/api/v2/model", status=503)
        with ModelOrchestratorClient.from_settings(settings, fallback=True) as models:
            canned = models.analyze_sentiment("anything")
            print(
                f"during an outage: fallback={canned.fallback}, error={type(canned.error).__name__}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
