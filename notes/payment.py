"""Hosted payment with a signed callback, as Moroccan bank gateways work.

The merchant (urbasig) sends the applicant to the gateway's payment page with the order fields and an
HMAC-SHA256 over them; once paid, the gateway calls the merchant back server to server with the result
fields and its own HMAC. The callback is accepted only with a valid signature, a known order and the
expected amount and currency, and it takes effect once: a replayed callback changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_FIELD = "HASH"


def sign(fields: dict[str, str], secret: str) -> str:
    """Base64 HMAC-SHA256 over the fields sorted by name, as "name=value" joined by "&" (HASH excluded)."""
    payload = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != SIGNATURE_FIELD)
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(fields: dict[str, str], secret: str) -> bool:
    """Whether the fields carry a valid signature (constant-time comparison)."""
    given = fields.get(SIGNATURE_FIELD, "")
    return bool(given) and hmac.compare_digest(given, sign(fields, secret))


@dataclass(frozen=True)
class Order:
    """What the merchant asks the gateway to collect."""

    order_id: str
    amount_mad: str  # "450.00"
    callback_url: str
    ok_url: str
    fail_url: str
    merchant_id: str = "AUC-URBASIG"

    def fields(self, secret: str) -> dict[str, str]:
        """The signed form fields posted to the gateway's payment page."""
        data = {"clientid": self.merchant_id, "oid": self.order_id, "amount": self.amount_mad, "currency": "504",
                "callbackUrl": self.callback_url, "okUrl": self.ok_url, "failUrl": self.fail_url}
        data[SIGNATURE_FIELD] = sign(data, secret)
        return data
