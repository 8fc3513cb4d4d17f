"""Match a request to its upstream and its rule, once per request, without regex backtracking."""

import re
from dataclasses import dataclass

from gateway.settings import GatewaySettings, RouteRule

PREFIXES = ("/api/v1/", "/admin/v1/", "/open/v1/")


@dataclass(frozen=True, slots=True)
class Match:
    kind: str  # "api", "admin" or "open"
    upstream: str
    base_url: str
    rule: RouteRule


def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for segment in pattern.strip("/").split("/"):
        if segment == "**":
            parts.append("(?:/.*)?")
            continue
        parts.append("/" + ("[^/]+" if segment == "*" else re.escape(segment)))
    return re.compile("".join(parts) + "/?$")


class Router:
    def __init__(self, settings: GatewaySettings) -> None:
        self._routes = settings.routes
        self._upstreams = settings.upstreams
        self._rules = [
            (_compile(r.path), frozenset(m.upper() for m in r.methods), r) for r in settings.rules
        ]

    def match(self, method: str, path: str) -> Match | None:
        for prefix in PREFIXES:
            if path.startswith(prefix):
                break
        else:
            return None
        area = path[len(prefix) :].split("/", 1)[0]
        upstream = self._routes.get(area)
        if upstream is None or upstream not in self._upstreams:
            return None
        for pattern, methods, rule in self._rules:
            if (not methods or method in methods) and pattern.match(path):
                return Match(
                    prefix.strip("/").split("/")[0], upstream, self._upstreams[upstream], rule
                )
        return None
