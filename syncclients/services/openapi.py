"""OpenAPIClient: a third-party HTTP API from its OpenAPI 3 document, on HTTPClient.

Each operation with an ``operationId`` becomes a method. Path, query and header parameters
come from keyword arguments (or ``params=`` for names that are not identifiers, such as
``Idempotency-Key``); a JSON request body is validated against its schema before sending.
Idempotency follows the HTTP method (RFC 9110 section 9.2.2) unless the operation says
otherwise with ``x-idempotent: true|false``; an idempotent POST is then retried like a PUT.

Why jsonschema (with ``referencing``) rather than a full OpenAPI library: OpenAPI 3.1
schemas are JSON Schema 2020-12, which jsonschema validates (with ``$ref`` into
``components`` resolved by ``referencing``); the rest of a document (paths, parameters) is
plain data a few lines can read. openapi-core would bring its own request/response layer
beside HTTPClient's; openapi-spec-validator only checks documents (our tests use it on the
shipped one). jsonschema is imported lazily, from the ``openapi`` extra.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..config import USE_CLIENT_DEFAULT, Timeouts, UseClientDefault
from ..errors import UsageError
from ..http.client import IDEMPOTENT_METHODS, ClientMetrics, HTTPClient

__all__ = ["OpenAPIClient", "OpenAPIOperation", "RequestValidationError", "platform_openapi"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class RequestValidationError(UsageError):
    """Arguments do not match the operation: a missing or unknown parameter, or a body that
    fails its schema. Nothing was sent."""


def platform_openapi() -> dict[str, Any]:
    """The platform services' contract as an OpenAPI 3.1 document (shipped in the package)."""
    text = resources.files(__package__).joinpath("platform-openapi.json").read_text("utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


@dataclass(frozen=True, slots=True)
class OpenAPIOperation:
    """One operation of the document.

    Attributes:
        operation_id: its ``operationId`` (the method name).
        method: the HTTP method, upper case.
        path: the path template (``/items/{id}``).
        parameters: ``{name: parameter object}`` (path, operation and referenced ones).
        body_pointer: the JSON pointer of the JSON request body's schema, or None.
        body_required: the body must be given.
        idempotent: safe to retry after sending.
        summary: the operation's summary ("" when none).
    """

    operation_id: str
    method: str
    path: str
    parameters: Mapping[str, Mapping[str, Any]]
    body_pointer: str | None
    body_required: bool
    idempotent: bool
    summary: str = ""


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class OpenAPIClient:
    """Operations of an OpenAPI 3 document as methods, sent through an HTTPClient.

    Build it with :meth:`from_spec`. Call ``client.<operationId>(**params, body=...)`` or
    :meth:`call`. Returns the decoded body (JSON as Python values).
    """

    def __init__(self, spec: Mapping[str, Any], http: HTTPClient, *, validate: bool = True) -> None:
        self.spec = dict(spec)
        self.http = http
        self.validate = validate
        self.operations: dict[str, OpenAPIOperation] = _operations(self.spec)
        self._validators: dict[str, Any] = {}

    @classmethod
    def from_spec(
        cls,
        spec_or_path: Mapping[str, Any] | str | Path,
        base_url: str | None = None,
        *,
        auth: Any = None,
        validate: bool = True,
        **http_options: Any,
    ) -> OpenAPIClient:
        """Read the document and build the client.

        Args:
            spec_or_path: the document as a mapping, or a path to a JSON (or YAML, with
                PyYAML installed) file.
            base_url: the API's base URL; None: the document's first ``servers`` URL.
            auth: a requests auth object (see :mod:`syncclients.http.auth`).
            validate: validate request bodies against their schemas (needs jsonschema).
            **http_options: any other :class:`~syncclients.HTTPClient` keyword.

        Raises:
            UsageError: not an OpenAPI 3 document, no base URL, or jsonschema missing.
        """
        if isinstance(spec_or_path, str | Path):
            text = Path(spec_or_path).read_text(encoding="utf-8")
            if str(spec_or_path).endswith((".yaml", ".yml")):
                try:
                    yaml: Any = importlib.import_module("yaml")
                except ImportError:
                    raise UsageError("a YAML document needs PyYAML: pip install pyyaml") from None
                spec = yaml.safe_load(text)
            else:
                spec = json.loads(text)
        else:
            spec = dict(spec_or_path)
        if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3."):
            raise UsageError("not an OpenAPI 3 document (no 'openapi: 3.x')")
        if base_url is None:
            servers = spec.get("servers") or []
            if not servers or "://" not in str(servers[0].get("url", "")):
                raise UsageError("no base_url given and the document has no absolute server URL")
            base_url = str(servers[0]["url"])
        http_options.setdefault("name", str((spec.get("info") or {}).get("title") or base_url))
        return cls(spec, HTTPClient(base_url, auth=auth, **http_options), validate=validate)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        operations = self.__dict__.get("operations") or {}
        if name in operations:

            def method(**kwargs: Any) -> Any:
                return self.call(name, **kwargs)

            method.__name__ = name
            method.__doc__ = operations[name].summary
            return method
        raise AttributeError(f"{type(self).__name__} has no operation {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self.operations})

    def call(
        self,
        operation_id: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: Timeouts | float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        deadline_s: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        **kwargs: Any,
    ) -> Any:
        """Send one operation and return the decoded body.

        Args:
            operation_id: the operation's ``operationId``.
            body: the JSON request body, or None.
            params: parameters by their exact names (for names that are not identifiers).
            timeout: per-attempt limits (see :class:`~syncclients.HTTPClient`).
            deadline_s: the whole call's limit, retries included.
            **kwargs: parameters by name.

        Returns:
            The decoded response body (see :meth:`HTTPClient.decode`).

        Raises:
            RequestValidationError: unknown operation or parameter, a missing required one,
                or a body that fails its schema (nothing sent).
            HTTPStatusError, Timeout, ConnectError, CircuitOpenError, ProtocolError: as
                :meth:`HTTPClient.request`.
        """
        op = self.operations.get(operation_id)
        if op is None:
            raise RequestValidationError(f"no operation {operation_id!r} in the document")
        given = {**(params or {}), **kwargs}
        unknown = set(given) - set(op.parameters)
        if unknown:
            raise RequestValidationError(f"{operation_id}: unknown parameter(s) {sorted(unknown)}")
        path = op.path
        query: dict[str, Any] = {}
        headers: dict[str, str] = {}
        for name, param in op.parameters.items():
            if name not in given:
                if param.get("required"):
                    raise RequestValidationError(f"{operation_id}: missing parameter {name!r}")
                continue
            value = given[name]
            where = param.get("in")
            if where == "path":
                path = path.replace("{" + name + "}", quote(str(value), safe=""))
            elif where == "query":
                query[name] = value
            elif where == "header":
                headers[name] = str(value)
        if body is None and op.body_required:
            raise RequestValidationError(f"{operation_id}: a request body is required")
        if body is not None:
            if op.body_pointer is None:
                raise RequestValidationError(f"{operation_id} takes no JSON request body")
            if self.validate:
                self._check_body(op, body)
        response = self.http.request(
            op.method,
            path.lstrip("/"),
            params=query or None,
            json=body,
            headers=headers or None,
            timeout=timeout,
            idempotent=op.idempotent,
            deadline_s=deadline_s,
        )
        return self.http.decode(response)

    def _check_body(self, op: OpenAPIOperation, body: Any) -> None:
        validator = self._validators.get(op.operation_id)
        if validator is None:
            try:
                jsonschema: Any = importlib.import_module("jsonschema")
                referencing: Any = importlib.import_module("referencing")
                specs: Any = importlib.import_module("referencing.jsonschema")
            except ImportError:
                raise UsageError(
                    "validating request bodies needs jsonschema: pip install 'syncclients[openapi]'"
                ) from None
            resource = referencing.Resource.from_contents(
                self.spec, default_specification=specs.DRAFT202012
            )
            registry = referencing.Registry().with_resource("urn:openapi", resource)
            validator = jsonschema.Draft202012Validator(
                {"$ref": f"urn:openapi#{op.body_pointer}"}, registry=registry
            )
            self._validators[op.operation_id] = validator
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(body)"
            raise RequestValidationError(
                f"{op.operation_id}: request body invalid at {where}: {first.message}"
            )

    def metrics(self) -> ClientMetrics:
        """The :meth:`HTTPClient.metrics() <syncclients.HTTPClient.metrics>` snapshot of the
        client the operations are sent through (one call per operation called)."""
        return self.http.metrics()

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    def __enter__(self) -> OpenAPIClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAPIClient({self.http.target!r}, operations={len(self.operations)})"


def _resolve(spec: Mapping[str, Any], obj: Any) -> Any:
    """Follow a local ``$ref`` (``#/components/...``) once, as parameters use them."""
    while isinstance(obj, Mapping) and isinstance(obj.get("$ref"), str):
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            raise UsageError(f"only local $ref are supported in parameters: {ref!r}")
        node: Any = spec
        for token in ref[2:].split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        obj = node
    return obj


def _operations(spec: Mapping[str, Any]) -> dict[str, OpenAPIOperation]:
    ops: dict[str, OpenAPIOperation] = {}
    for path, item in (spec.get("paths") or {}).items():
        shared = [_resolve(spec, p) for p in item.get("parameters") or []]
        for method in _METHODS:
            raw = item.get(method)
            if not isinstance(raw, Mapping) or not raw.get("operationId"):
                continue
            op_id = str(raw["operationId"])
            if not op_id.isidentifier():
                raise UsageError(f"operationId {op_id!r} is not a Python identifier")
            params = {p["name"]: p for p in shared}
            params.update(
                {p["name"]: p for p in (_resolve(spec, q) for q in raw.get("parameters") or [])}
            )
            pointer = None
            required = False
            request = _resolve(spec, raw.get("requestBody"))
            if isinstance(request, Mapping):
                content = request.get("content") or {}
                if "application/json" in content:
                    pointer = "/".join(
                        ["", "paths", _escape(path), method, "requestBody", "content",
                         _escape("application/json"), "schema"]
                    )  # fmt: skip
                    if "$ref" in raw["requestBody"]:
                        pointer = (
                            raw["requestBody"]["$ref"][1:] + "/content/application~1json/schema"
                        )
                required = bool(request.get("required"))
            marked = raw.get("x-idempotent")
            idempotent = (
                bool(marked) if isinstance(marked, bool) else method.upper() in IDEMPOTENT_METHODS
            )
            ops[op_id] = OpenAPIOperation(
                op_id,
                method.upper(),
                path,
                params,
                pointer,
                required,
                idempotent,
                str(raw.get("summary") or ""),
            )
    return ops
