"""Schemathesis hooks for .ci/schemathesis.sh.

The gateway's cursors are opaque: the OpenAPI file gives them the formats
`product-cursor` and `order-cursor`, whose only valid values are those the
server returned. Schemathesis cannot invent such values, so this module
teaches it the two formats by asking the running gateway for real cursors
when it loads (and the empty cursor, which starts from the beginning).
Anything else is left to schemathesis: negative tests still send broken
cursors, and the stateful phase still follows next_cursor through the
links it infers.

Reads SHOPLAB_ST_BASE (the gateway's base URL) and SHOPLAB_ST_TOKEN (a
bearer token of a user with a few orders).
"""

import json
import os
import urllib.request

import schemathesis
from hypothesis import strategies as st

BASE = os.environ["SHOPLAB_ST_BASE"].rstrip("/")
TOKEN = os.environ["SHOPLAB_ST_TOKEN"]


def _cursors(path, pages=8):
    """Follows next_cursor from the first page of path, one item a page."""
    out, cursor = [""], ""
    for _ in range(pages):
        url = f"{BASE}{path}?limit=1" + (f"&cursor={cursor}" if cursor else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=10) as res:
            cursor = json.load(res)["next_cursor"]
        if not cursor:
            break
        out.append(cursor)
    if len(out) < 2:
        raise RuntimeError(f"{path} returned no cursor: the run needs a catalog and a few orders")
    return out


schemathesis.openapi.format("product-cursor", st.sampled_from(_cursors("/api/v1/products")))
schemathesis.openapi.format("order-cursor", st.sampled_from(_cursors("/api/v1/orders")))


# tok_processingError is the test card whose charge fails at the processor:
# the spec documents that POST /api/v1/orders then answers 503
# `payment_unavailable` (the order is FAILED for good). schemathesis.toml
# turns the built-in not_a_server_error off (a per-operation override does
# not reach the stateful phase), and this check puts it back for every
# operation and phase, with that one exception: a 5xx is a failure unless
# the request chose that card and the answer says exactly that.
PROCESSING_ERROR_TOKEN = "tok_processingError"


@schemathesis.check
def not_a_server_error_but_the_failing_card(ctx, response, case):
    if response.status_code < 500:
        return None
    body = case.body if isinstance(case.body, dict) else {}
    payment = body.get("payment")
    token = payment.get("token") if isinstance(payment, dict) else None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if (
        case.operation.label == "POST /api/v1/orders"
        and token == PROCESSING_ERROR_TOKEN
        and response.status_code == 503
        and code == "payment_unavailable"
    ):
        return None
    raise AssertionError(f"server error {response.status_code} (code {code!r}, payment token {token!r})")
