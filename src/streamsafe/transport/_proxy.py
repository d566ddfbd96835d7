"""Proxy routes from the environment, derived exactly as httpx derives them.

httpx reads ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``
only when it builds its own transport: as soon as ``transport=`` is passed to a
client, the environment is ignored. :func:`environment_proxy_routes` turns the
environment (and the system settings on macOS and Windows, through
``urllib.request.getproxies()``) into the same mount patterns httpx builds, so
the default clients can mount a keep-alive transport on every route and leave
the precedence between patterns to httpx; :func:`proxy_routes` adds httpx's
rule that an explicit ``proxy=`` replaces the environment.
"""

from __future__ import annotations

import ipaddress
import urllib.request
from typing import Any

__all__ = ["environment_proxy_routes", "proxy_routes"]


def _is_ip(host: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(host.split("/")[0])
    except ValueError:
        return False
    return True


def _no_proxy_pattern(host: str) -> str:
    """The mount pattern that sends ``host`` (one NO_PROXY entry) direct."""
    if "://" in host:
        return host
    if _is_ip(host, ipaddress.IPv4Address):
        return f"all://{host}"
    if _is_ip(host, ipaddress.IPv6Address):
        return f"all://[{host}]"
    if host.lower() == "localhost":
        return f"all://{host}"
    # "example.com" covers example.com and its subdomains; ".example.com" only
    # the subdomains (a leading "*" in a mount pattern means "this or a
    # subdomain", "*." means "a subdomain").
    return f"all://*{host}"


def environment_proxy_routes() -> dict[str, str | None]:
    """Mount patterns from the proxy environment, as httpx derives them.

    Same source (``urllib.request.getproxies()``: the environment, and the
    system settings on macOS and Windows), same keys: ``http://``, ``https://``
    and ``all://`` map to a proxy URL (``http://`` prefixed when the value has
    no scheme); every NO_PROXY entry maps to ``None`` (go direct); a ``*`` entry
    disables proxies altogether. Precedence between the patterns is httpx's
    own, since the result is handed to the client as ``mounts``.
    """
    found = urllib.request.getproxies()
    routes: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            routes[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for entry in found.get("no", "").split(","):
        host = entry.strip()
        if host == "*":
            return {}
        if host:
            routes[_no_proxy_pattern(host)] = None
    return routes


def proxy_routes(proxy: Any, trust_env: bool) -> dict[str, Any]:
    # Mirrors httpx: an explicit proxy wins over (and disables) the environment.
    if proxy is not None:
        return {"all://": proxy}
    if trust_env:
        return dict(environment_proxy_routes())
    return {}
