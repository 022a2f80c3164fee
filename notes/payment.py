"""Hosted payment with signed messages, as Moroccan bank gateways work, with one key and one form per direction.

The merchant (urbasig) sends the applicant's browser to the gateway's payment page with the **order** fields;
once the applicant has tried to pay, the gateway calls the merchant back server to server with the
**callback** fields. Both are signed by an HMAC-SHA256 over their fields, but never with the same key: each
direction has its own key derived from the shared secret with a purpose label (HMAC(secret, "urbasig/paiement/
<purpose>")), and its own required field set led by `msgType`. So the order fields the browser sees, even
posted as they are to the callback address, are neither well-formed nor validly signed as a callback.

A payment attempt is one gateway transaction (`TransId`); the gateway retries a callback until it gets a 2xx,
always with the same `TransId`. Only an approval is final: a declined attempt leaves the order open for a new
attempt, with a new `TransId` (layers/payments.py applies each `TransId` once).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from gis.errors import Forbidden, InputError

SIGNATURE_FIELD = "HASH"
MESSAGE_TYPE_FIELD = "msgType"
ORDER, CALLBACK = "order", "callback"  # the two purposes: the key label and the value of msgType
# Each message type's required fields (HASH aside): a message lacking one, or carrying another type, is refused.
REQUIRED_FIELDS = {
    ORDER: ("msgType", "clientid", "oid", "amount", "currency", "callbackUrl", "okUrl", "failUrl"),
    CALLBACK: ("msgType", "clientid", "oid", "amount", "currency", "Response", "ProcReturnCode", "TransId"),
}
RESPONSES = ("Approved", "Declined", "Error")  # what the gateway's `Response` field may say
# The shape of each callback field that reaches the database (anything else is refused before any query).
CALLBACK_SHAPES = {"oid": re.compile(r"[A-Za-z0-9_-]{1,64}"), "TransId": re.compile(r"[A-Za-z0-9_.-]{1,64}"),
                   "amount": re.compile(r"[0-9]{1,8}(\.[0-9]{1,2})?"), "currency": re.compile(r"[0-9]{3}"),
                   "ProcReturnCode": re.compile(r"[0-9A-Za-z]{1,8}")}
CURRENCY_MAD = "504"  # ISO 4217 numeric code of the dirham
MERCHANT_ID = "AUC-URBASIG"


def purpose_key(secret: str, purpose: str) -> bytes:
    """The key of one message type, derived from the shared secret (HMAC-SHA256 with a purpose label)."""
    if purpose not in REQUIRED_FIELDS:
        raise ValueError(f"type de message inconnu : {purpose}")
    return hmac.new(secret.encode(), f"urbasig/paiement/{purpose}".encode(), hashlib.sha256).digest()


def sign(fields: dict[str, str], secret: str, purpose: str) -> str:
    """Base64 HMAC-SHA256, with the purpose's key, over the fields sorted by name as "name=value" joined by "&"."""
    payload = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != SIGNATURE_FIELD)
    return base64.b64encode(hmac.new(purpose_key(secret, purpose), payload.encode(), hashlib.sha256).digest()).decode()


def signed(fields: dict[str, str], secret: str, purpose: str) -> dict[str, str]:
    """The fields of a message of this type, with its `msgType` and its signature."""
    data = {**fields, MESSAGE_TYPE_FIELD: purpose}
    data[SIGNATURE_FIELD] = sign(data, secret, purpose)
    return data


def well_formed(fields: dict[str, str], purpose: str) -> str | None:
    """Why the fields are not a message of this type (None when they are): its type, its required fields."""
    if fields.get(MESSAGE_TYPE_FIELD) != purpose:
        return f"« {MESSAGE_TYPE_FIELD} » doit valoir « {purpose} » (reçu « {fields.get(MESSAGE_TYPE_FIELD, '')} »)"
    missing = [k for k in (*REQUIRED_FIELDS[purpose], SIGNATURE_FIELD) if not fields.get(k)]
    if missing:
        return f"champ(s) obligatoire(s) absent(s) ou vide(s) : {', '.join(missing)}"
    return None


def verify(fields: dict[str, str], secret: str, purpose: str) -> bool:
    """Whether the fields are a well-formed message of this type with a valid signature (constant time)."""
    if not secret or well_formed(fields, purpose) is not None:
        return False
    return hmac.compare_digest(fields[SIGNATURE_FIELD], sign(fields, secret, purpose))


@dataclass(frozen=True)
class Callback:
    """A gateway callback, checked for form and signature."""

    order_id: str
    amount: str
    currency: str
    approved: bool
    transaction_id: str
    return_code: str
    response: str


class ForgedCallback(Forbidden):
    """A callback whose signature is not the gateway's (or made with another key)."""

    code = "rappel-non-authentique"


def read_callback(fields: dict[str, str], secret: str) -> Callback:
    """The callback these fields carry; 400 when malformed, 403 when the signature is not the gateway's.

    Approved means `Response=Approved` and `ProcReturnCode=00`, nothing else.
    """
    problem = well_formed(fields, CALLBACK)
    if problem:
        raise InputError(f"rappel de paiement mal formé : {problem}")
    if fields["Response"] not in RESPONSES:
        raise InputError(f"rappel de paiement : « Response » doit valoir {', '.join(RESPONSES)}")
    odd = [k for k, shape in CALLBACK_SHAPES.items() if not shape.fullmatch(fields[k])]
    if odd:
        raise InputError(f"rappel de paiement : champ(s) illisible(s) : {', '.join(odd)}")
    if not verify(fields, secret, CALLBACK):
        raise ForgedCallback("rappel de paiement refusé : signature de la passerelle invalide")
    return Callback(fields["oid"], fields["amount"], fields["currency"],
                    fields["Response"] == "Approved" and fields["ProcReturnCode"] == "00", fields["TransId"],
                    fields["ProcReturnCode"], fields["Response"])


@dataclass(frozen=True)
class Order:
    """What the merchant asks the gateway to collect."""

    order_id: str
    amount_mad: str  # "450.00"
    callback_url: str
    ok_url: str
    fail_url: str
    merchant_id: str = MERCHANT_ID

    def fields(self, secret: str) -> dict[str, str]:
        """The signed form fields posted (by the applicant's browser) to the gateway's payment page."""
        return signed({"clientid": self.merchant_id, "oid": self.order_id, "amount": self.amount_mad,
                       "currency": CURRENCY_MAD, "callbackUrl": self.callback_url, "okUrl": self.ok_url,
                       "failUrl": self.fail_url}, secret, ORDER)
