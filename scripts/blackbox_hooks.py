"""Checks of the black-box fuzz run (scripts/blackbox-fuzz.sh), loaded through SCHEMATHESIS_HOOKS.

Schemathesis' own `not_a_server_error` counts every GraphQL error that carries a `path` and
no code it knows as a server error, so NOT_FOUND, FORBIDDEN and CONFLICT answers would all fail
it. The gateway labels its own failures: these checks fail on exactly what is a server defect.
"""

from __future__ import annotations

import json

import schemathesis


def _payload(response):
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


@schemathesis.check
def lastmile_no_5xx(ctx, response, case):
    """No response has a 5xx status."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.content[:500]!r}")


@schemathesis.check
def lastmile_graphql_body(ctx, response, case):
    """Every response has a body: a JSON object with `data` or `errors`."""
    if not response.content:
        raise AssertionError(f"HTTP {response.status_code} without a body")
    payload = _payload(response)
    if not isinstance(payload, dict) or not ({"data", "errors"} & payload.keys()):
        raise AssertionError(f"HTTP {response.status_code}, not a GraphQL response: {response.content[:500]!r}")


@schemathesis.check
def lastmile_no_internal_server_error(ctx, response, case):
    """No GraphQL error has `extensions.code == "INTERNAL_SERVER_ERROR"`."""
    payload = _payload(response)
    if not isinstance(payload, dict):
        return
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and extensions.get("code") == "INTERNAL_SERVER_ERROR":
            path = ".".join(str(part) for part in error.get("path") or [])
            raise AssertionError(f"INTERNAL_SERVER_ERROR at {path or '(no path)'}: {error.get('message')}")
