"""Standard Webhooks 1.0 signatures (https://www.standardwebhooks.com/): the headers every
delivery carries, so that any of the scheme's reference libraries verifies it.

`webhook-id` is the delivery's id, the same on every attempt (a receiver drops repeats by
it); `webhook-timestamp` is the attempt's time in whole seconds; `webhook-signature` is
`v1,` and the base64 of HMAC-SHA256, keyed with the secret's bytes, of `id.timestamp.body`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def signature(key: bytes, delivery_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_headers(delivery_id: str, timestamp: int, body: bytes,
                    key: bytes | None) -> dict[str, str]:
    """The scheme's headers; without a key (a target with no secret), no signature."""
    headers = {"webhook-id": delivery_id, "webhook-timestamp": str(timestamp)}
    if key is not None:
        headers["webhook-signature"] = signature(key, delivery_id, timestamp, body)
    return headers
