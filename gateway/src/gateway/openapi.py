"""One OpenAPI document for the public and admin API, merged from every service, and a
separate one for the supplier open API with the signature explained."""

import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from shared.logging import get_logger

from gateway.rules import Router
from gateway.settings import GatewaySettings

log = get_logger(__name__)

CACHE_S = 60.0
OPEN_API_GUIDE = Path(__file__).with_name("open_api_guide.md")

SECURITY_SCHEMES = {
    "memberBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Member access token from POST /api/v1/auth/wechat/login (EdDSA).",
    },
    "staffBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Staff token from POST /admin/v1/auth/login; each route names its roles.",
    },
}
SUPPLIER_SCHEMES = {
    "supplierKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "supplierSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": "HMAC-SHA256 of the canonical request; see the description above.",
    },
}


class OpenApiMerger:
    def __init__(self, settings: GatewaySettings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._session = session
        self._router = Router(settings)
        self._cached: tuple[float, dict[str, Any], dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def documents(self) -> tuple[dict[str, Any], dict[str, Any]]:
        async with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_S:
                public, open_api = self._merge(await self._fetch_all())
                self._cached = (time.monotonic(), public, open_api)
            return self._cached[1], self._cached[2]

    async def _fetch_all(self) -> dict[str, dict[str, Any]]:
        async def one(name: str, url: str) -> tuple[str, dict[str, Any] | None]:
            try:
                async with self._session.get(url + "/openapi.json") as response:
                    response.raise_for_status()
                    return name, await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("gateway.openapi_unavailable", upstream=name, error=repr(exc))
                return name, None

        results = await asyncio.gather(*(one(n, u) for n, u in self._settings.upstreams.items()))
        return {name: doc for name, doc in results if doc is not None}

    def _merge(self, docs: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        public = _skeleton("minimall API", "The mini-program (/api/v1) and staff (/admin/v1) API.")
        public["components"]["securitySchemes"] = SECURITY_SCHEMES
        supplier = _skeleton("minimall supplier open API", OPEN_API_GUIDE.read_text())
        supplier["components"]["securitySchemes"] = SUPPLIER_SCHEMES
        seen: dict[str, Any] = {}
        for name, raw in sorted(docs.items()):
            doc = _namespace_conflicts(name, raw, seen)
            for path, operations in doc.get("paths", {}).items():
                target = supplier if path.startswith("/open/v1/") else public
                for method, operation in operations.items():
                    match = self._router.match(method.upper(), path)
                    if match is None or match.upstream != name:
                        continue  # not reachable through the gateway
                    op = copy.deepcopy(operation)
                    op.setdefault("tags", [name])
                    op["security"] = _security(match.kind, match.rule.public)
                    if match.kind == "admin" and not match.rule.public:
                        roles = ["admin", *match.rule.roles]
                        op["description"] = (
                            op.get("description", "") + f"\n\nRoles: {', '.join(roles)}."
                        ).strip()
                    target["paths"].setdefault(path, {})[method] = op
            for schema, body in doc.get("components", {}).get("schemas", {}).items():
                seen[schema] = body
                for target in (public, supplier):
                    target["components"]["schemas"][schema] = body
        return public, supplier


def _namespace_conflicts(service: str, doc: dict[str, Any], seen: dict[str, Any]) -> dict[str, Any]:
    """Rename this service's schemas whose name another service uses for a different shape."""
    schemas = doc.get("components", {}).get("schemas", {})
    clashes = [n for n, body in schemas.items() if n in seen and seen[n] != body]
    if not clashes:
        return doc
    text = json.dumps(doc)
    for name in clashes:
        text = text.replace(
            f'"#/components/schemas/{name}"', f'"#/components/schemas/{service}_{name}"'
        )
    renamed: dict[str, Any] = json.loads(text)
    components = renamed["components"]["schemas"]
    for name in clashes:
        components[f"{service}_{name}"] = components.pop(name)
    return renamed


def _skeleton(title: str, description: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "paths": {},
        "components": {"schemas": {}},
    }


def _security(kind: str, public: bool) -> list[dict[str, list[str]]]:
    if kind == "open":
        return [{"supplierKey": [], "supplierSignature": []}]
    if public:
        return []
    return [{"staffBearer": []}] if kind == "admin" else [{"memberBearer": []}]
