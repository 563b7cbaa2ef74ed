"""How many SMS a text takes: GSM-7 (160 characters alone, 153 a part when joined) when
every character is in that alphabet, else UCS-2 (70 alone, 67 a part) — the case of any
Vietnamese text with its diacritics. Counted as phones and operators count them (3GPP TS
23.038 and 23.040: an extension character takes two places, a character beyond UCS-2's
plane takes two)."""

from __future__ import annotations

# The GSM 03.38 default alphabet, and its extension table (each taken with an escape: two).
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def sms_length(text: str) -> tuple[int, bool]:
    """How many places ``text`` fills in an SMS, and whether it is GSM-7 (else UCS-2)."""
    if all(ch in _GSM7 or ch in _GSM7_EXTENDED for ch in text):
        return sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text), True
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text), False


def sms_parts(text: str) -> int:
    """How many SMS ``text`` is sent as (one for an empty text)."""
    length, gsm7 = sms_length(text)
    single, part = (GSM7_SINGLE, GSM7_PART) if gsm7 else (UCS2_SINGLE, UCS2_PART)
    return 1 if length <= single else -(-length // part)
