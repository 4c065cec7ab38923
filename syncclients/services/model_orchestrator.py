"""ModelOrchestratorClient: intent, entities, response generation, sentiment, model status
(contract section 2: ``POST /api/v2/model/process`` and ``GET /api/v2/model/status``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import USE_CLIENT_DEFAULT
from ..errors import SyncClientsError
from .base import FallbackArg, ServiceClient

__all__ = [
    "DEFAULT_MODEL_PREFERENCES",
    "EntitiesResult",
    "Entity",
    "GeneratedResponse",
    "IntentResult",
    "ModelOrchestratorClient",
    "ModelStatus",
    "SentimentResult",
]

_PROCESS = "api/v2/model/process"

#: The contract's default ``model_preferences`` per operation (a tenant's replace them whole).
DEFAULT_MODEL_PREFERENCES: Mapping[str, Mapping[str, Any]] = {
    "intent_detection": {
        "primary_provider": "openai",
        "primary_model": "gpt-4-turbo",
        "fallback_chain": ["anthropic:claude-3-sonnet"],
    },
    "entity_extraction": {"primary_provider": "openai", "primary_model": "gpt-4-turbo"},
    "response_generation": {
        "primary_provider": "anthropic",
        "primary_model": "claude-3-sonnet",
        "temperature": 0.7,
        "max_tokens": 500,
    },
    "sentiment_analysis": {"primary_provider": "huggingface", "primary_model": "sentiment-roberta"},
}

#: Whole-call timeouts in seconds (contract section 2), retries included.
TIMEOUTS_S: Mapping[str, float] = {
    "intent_detection": 15.0,
    "entity_extraction": 10.0,
    "response_generation": 20.0,
    "sentiment_analysis": 5.0,
    "status": 5.0,
}


def _f(value: Any, default: float = 0.0) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _d(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _l(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class IntentResult:
    """``detect_intent``'s result.

    Attributes:
        intent: ``data.result.primary_intent`` ("" when absent; "general_inquiry" as fallback).
        confidence: 0.0-1.0 (0.0 when absent; 0.1 as fallback).
        alternatives, entities: as the service sent them (empty when absent).
        model_info: ``data.model_info``.
        processing_time_ms: ``data.performance_metrics.processing_time_ms``.
        fallback: True when this is the canned result of a failed call.
        error: the failure when ``fallback``, else None.
        raw: the reply's ``data`` object ({} for a fallback).
    """

    intent: str
    confidence: float
    alternatives: tuple[Any, ...] = ()
    entities: tuple[Any, ...] = ()
    model_info: dict[str, Any] = field(default_factory=dict)
    processing_time_ms: float = 0.0
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Entity:
    """One extracted entity (``entity`` <- ``type``; offsets in characters)."""

    entity: str
    value: str
    raw_value: str
    start: int
    end: int
    confidence: float
    resolution: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class EntitiesResult:
    """``extract_entities``'s result: ``entities`` in the service's order (empty as fallback)."""

    entities: tuple[Entity, ...]
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class GeneratedResponse:
    """``generate_response``'s result (``text`` <- ``primary_output``, ``confidence`` <-
    ``confidence_score``, as the contract maps them: inconsistency 7)."""

    text: str
    type: str
    confidence: float
    reasoning: Any = None
    alternatives: tuple[Any, ...] = ()
    model_info: dict[str, Any] = field(default_factory=dict)
    processing_time_ms: float = 0.0
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class SentimentResult:
    """``analyze_sentiment``'s result (``sentiment`` "neutral" when absent or as fallback)."""

    sentiment: str
    confidence: float
    scores: dict[str, Any] = field(default_factory=dict)
    processing_time_ms: float = 0.0
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """``get_model_status``'s result: ``status`` ("unknown" as fallback) and the ``data``."""

    status: str
    fallback: bool = False
    error: SyncClientsError | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class ModelOrchestratorClient(ServiceClient):
    """The Model Orchestrator (service ``model_orchestrator``).

    The four ``process`` operations are read-only computations, so they are retried after
    sending (5xx, 429, timeouts, resets) within their whole-call timeout: intent 15 s,
    entities 10 s, response 20 s, sentiment 5 s, status 5 s.

    Args:
        base_url: ``external_services.model_orchestrator_url``.
        model_preferences: per-operation preferences of the tenant, each replacing the
            default whole (not merged); None: the contract's defaults.
        **kwargs: see :class:`~syncclients.services.ServiceClient`.
    """

    service = "model_orchestrator"

    def __init__(
        self,
        base_url: str,
        *,
        model_preferences: Mapping[str, Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self.model_preferences = {
            **{k: dict(v) for k, v in DEFAULT_MODEL_PREFERENCES.items()},
            **{k: dict(v) for k, v in (model_preferences or {}).items()},
        }

    def _process(
        self,
        operation: str,
        input: dict[str, Any],
        output_requirements: dict[str, Any] | None,
        tenant_id: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "operation": operation,
            "input": input,
            "model_preferences": copy.deepcopy(self.model_preferences[operation]),
        }
        if output_requirements is not None:
            body["output_requirements"] = output_requirements
        reply, _ = self._call(
            "POST",
            _PROCESS,
            json=body,
            timeout_s=TIMEOUTS_S[operation],
            idempotent=True,  # a read-only computation: safe to repeat
            tenant_id=tenant_id,
        )
        return self._data(reply)

    def detect_intent(
        self,
        text: str,
        *,
        language: str = "en",
        conversation_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> IntentResult:
        """Detect the intent of ``text`` (operation ``intent_detection``, 15 s).

        Returns:
            An :class:`IntentResult`.

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """

        def call() -> IntentResult:
            data = self._process(
                "intent_detection",
                {
                    "text": text,
                    "language": language,
                    "conversation_context": dict(conversation_context or {}),
                },
                {"format": "structured", "include_confidence": True, "include_alternatives": True},
                tenant_id,
            )
            result = _d(data.get("result"))
            return IntentResult(
                intent=str(result.get("primary_intent") or ""),
                confidence=_f(result.get("confidence")),
                alternatives=_l(result.get("alternatives")),
                entities=_l(result.get("entities")),
                model_info=_d(data.get("model_info")),
                processing_time_ms=_f(
                    _d(data.get("performance_metrics")).get("processing_time_ms")
                ),
                raw=data,
            )

        return self._guard(
            fallback,
            call,
            lambda e: IntentResult("general_inquiry", 0.1, fallback=True, error=e),
            "detect_intent",
        )

    def extract_entities(
        self,
        text: str,
        *,
        entity_types: list[str] | None = None,
        conversation_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> EntitiesResult:
        """Extract entities from ``text`` (operation ``entity_extraction``, 10 s).

        Returns:
            An :class:`EntitiesResult` (no entities as fallback).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """

        def call() -> EntitiesResult:
            data = self._process(
                "entity_extraction",
                {
                    "text": text,
                    "entity_types": list(entity_types or []),
                    "conversation_context": dict(conversation_context or {}),
                },
                None,
                tenant_id,
            )
            items = _d(data.get("result")).get("entities")
            entities = []
            for item in items if isinstance(items, list) else []:
                e = _d(item)
                value = str(e.get("value", ""))
                entities.append(
                    Entity(
                        entity=str(e.get("type") or "unknown"),
                        value=value,
                        raw_value=str(e.get("raw_value", value)),
                        start=int(_f(e.get("start"))),
                        end=int(_f(e.get("end"))),
                        confidence=_f(e.get("confidence")),
                        resolution=_d(e.get("resolution")),
                        raw=e,
                    )
                )
            return EntitiesResult(tuple(entities), raw=data)

        return self._guard(
            fallback,
            call,
            lambda e: EntitiesResult((), fallback=True, error=e),
            "extract_entities",
        )

    def generate_response(
        self,
        intent: str,
        entities: list[Any] | None = None,
        *,
        conversation_context: Mapping[str, Any] | None = None,
        response_template: str | None = None,
        personalization_data: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> GeneratedResponse:
        """Generate a reply (operation ``response_generation``, 20 s).

        Returns:
            A :class:`GeneratedResponse`.

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """

        def call() -> GeneratedResponse:
            data = self._process(
                "response_generation",
                {
                    "intent": intent,
                    "entities": list(entities or []),
                    "conversation_context": dict(conversation_context or {}),
                    "response_template": response_template,
                    "personalization_data": dict(personalization_data or {}),
                },
                {"format": "structured", "include_reasoning": False, "tone": "helpful"},
                tenant_id,
            )
            result = _d(data.get("result"))
            return GeneratedResponse(
                text=str(result.get("primary_output") or "I'm here to help. How can I assist you?"),
                type="text",
                confidence=_f(result.get("confidence_score")),
                reasoning=result.get("reasoning"),
                alternatives=_l(result.get("alternatives")),
                model_info=_d(data.get("model_info")),
                processing_time_ms=_f(
                    _d(data.get("performance_metrics")).get("processing_time_ms")
                ),
                raw=data,
            )

        return self._guard(
            fallback,
            call,
            lambda e: GeneratedResponse(
                "I understand. How can I help you further?", "text", 0.1, fallback=True, error=e
            ),
            "generate_response",
        )

    def analyze_sentiment(
        self,
        text: str,
        *,
        tenant_id: str | None = None,
        fallback: FallbackArg = USE_CLIENT_DEFAULT,
    ) -> SentimentResult:
        """Analyse the sentiment of ``text`` (operation ``sentiment_analysis``, 5 s in all).

        Returns:
            A :class:`SentimentResult`.

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """

        def call() -> SentimentResult:
            data = self._process("sentiment_analysis", {"text": text}, None, tenant_id)
            result = _d(data.get("result"))
            return SentimentResult(
                sentiment=str(result.get("sentiment") or "neutral"),
                confidence=_f(result.get("confidence")),
                scores=_d(result.get("scores")),
                processing_time_ms=_f(
                    _d(data.get("performance_metrics")).get("processing_time_ms")
                ),
                raw=data,
            )

        return self._guard(
            fallback,
            call,
            lambda e: SentimentResult("neutral", 0.0, fallback=True, error=e),
            "analyze_sentiment",
        )

    def get_model_status(
        self, *, tenant_id: str | None = None, fallback: FallbackArg = USE_CLIENT_DEFAULT
    ) -> ModelStatus:
        """``GET /api/v2/model/status`` (5 s).

        Returns:
            A :class:`ModelStatus` (``status`` "unknown" as fallback).

        Raises:
            SyncClientsError: the call failed and no fallback was asked for.
        """

        def call() -> ModelStatus:
            reply, _ = self._call(
                "GET", "api/v2/model/status", timeout_s=TIMEOUTS_S["status"], tenant_id=tenant_id
            )
            data = self._data(reply)
            return ModelStatus(str(data.get("status") or "unknown"), raw=data)

        return self._guard(
            fallback,
            call,
            lambda e: ModelStatus("unknown", fallback=True, error=e),
            "get_model_status",
        )
