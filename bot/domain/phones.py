"""Phone numbers: normalise what the office types into E.164, and mask them for logs.

Vietnamese numbering (since the 2018 landline re-numbering): a national significant
number (NSN, what follows "+84" or the trunk "0") is either
  * 9 digits starting with 3, 5, 7, 8 or 9 - mobile (e.g. 912 345 678), or
  * 10 digits starting with 2 - landline, area code included (e.g. 24 3825 1234 for Hanoi).
"""

from __future__ import annotations

import re
import unicodedata

_VN_COUNTRY_CODE = "84"
_MOBILE_LEADING_DIGITS = frozenset("35789")
# Characters people put between digit groups; anything else (letters, "/", ",") makes the
# value ambiguous - often two numbers in one cell - so we refuse it rather than guess.
_SEPARATORS = frozenset(" .-()")
_FOREIGN_MIN_DIGITS = 8
_E164_MAX_DIGITS = 15
_MASK = "*" * 7
_KEEP_LAST = 3
# Since 2017 Hanoi (24) and Ho Chi Minh City (28) have two-digit area codes, every other
# province three (203 Quảng Ninh, 236 Đà Nẵng, …).
_TWO_DIGIT_AREAS = frozenset({"24", "28"})


def _is_vn_nsn(nsn: str) -> bool:
    """Whether `nsn` is a plausible Vietnamese national significant number."""
    if len(nsn) == 9:
        return nsn[0] in _MOBILE_LEADING_DIGITS
    if len(nsn) == 10:
        return nsn[0] == "2"
    return False


def _vn(nsn: str) -> str | None:
    """E.164 for a Vietnamese NSN, or None if it is not plausible."""
    return f"+{_VN_COUNTRY_CODE}{nsn}" if _is_vn_nsn(nsn) else None


def normalize_phone(raw: str) -> str | None:
    """Return `raw` as an E.164 number ("+84912345678"), or None if it is not plausible."""
    # NFKC folds full-width digits/plus and no-break spaces (common in pasted text) to ASCII.
    text = unicodedata.normalize("NFKC", raw).strip()
    # Excel users force text with a leading apostrophe; it sometimes survives into CSV.
    text = text.removeprefix("'").strip()
    international = False
    if text.startswith("+"):
        international = True
        text = text[1:]
    elif text.startswith("00"):
        # "00" is the international call prefix in Vietnam; a domestic number never has it.
        international = True
        text = text[2:]
    digits = []
    for ch in text:
        if "0" <= ch <= "9":
            digits.append(ch)
        elif not (ch in _SEPARATORS or ch.isspace()):
            return None
    number = "".join(digits)
    if not number:
        return None

    if international:
        if number.startswith(_VN_COUNTRY_CODE):
            nsn = number[len(_VN_COUNTRY_CODE) :]
            # "+84 (0) 912 ..." / "+840912..." - the trunk 0 kept by mistake.
            if nsn.startswith("0"):
                nsn = nsn[1:]
            return _vn(nsn)
        if _FOREIGN_MIN_DIGITS <= len(number) <= _E164_MAX_DIGITS and number[0] != "0":
            return "+" + number
        return None

    if number.startswith("0"):
        return _vn(number[1:])
    # No trunk 0: either the country code was typed without "+", or Excel stored the number
    # as a numeric value and dropped the leading 0. NSN lengths (9/10) and "84"+NSN lengths
    # (11/12) do not overlap, so the length tells which case we are in.
    if len(number) in (9, 10):
        return _vn(number)
    if number.startswith(_VN_COUNTRY_CODE):
        return _vn(number[len(_VN_COUNTRY_CODE) :])
    return None


# What offices put between two numbers in one cell: "/", ",", ";", a line break, a dash with
# spaces around it ("0912345678 - 0243825123") or a word ("hoặc").
_BETWEEN_NUMBERS = re.compile(r"[/,;|&\n]|\s[-–—]\s|\s(?:hoặc|hoac|or|và|va|and)\s", re.IGNORECASE)
# A note in parentheses, with at least one letter in it: "(Zalo)", "(cơ quan)".
_NOTE = re.compile(r"\([^()]*[^\W\d_][^()]*\)")
# From the first digit (or "+", or "(" of an area code) to the last one, separators between.
_NUMBER = re.compile(r"\+?\(?\d[\d\s.\-()]*\d")
_PLAIN_SEPARATOR = re.compile(r"[\s.\-]+")


def first_phone(raw: str) -> tuple[str, str] | None:
    """The first plausible number of a cell that holds several, or one with a note or a label
    ("0912.345.679 (Zalo)", "ĐT: 0912345678", "0912345678/0987654321"): its E.164 form and
    the text it was read from, or None if no part of the cell is a plausible number.

    A number is never cut short to make it fit: each part is taken whole, and two numbers
    joined by a plain separator ("0912345678-0987654321") are split only where both halves
    are plausible numbers.
    """
    text = unicodedata.normalize("NFKC", raw)
    for part in _BETWEEN_NUMBERS.split(text):
        match = _NUMBER.search(_NOTE.sub(" ", part))
        if match is None:
            continue
        written = match.group().strip()
        if (e164 := normalize_phone(written)) is not None:
            return e164, written
        for gap in _PLAIN_SEPARATOR.finditer(written):
            left, right = written[: gap.start()], written[gap.end() :]
            if (e164 := normalize_phone(left)) is not None and normalize_phone(right):
                return e164, left
    return None


# A search box's digits are a phone number from six on: its last six are enough to find one.
_LOOKUP_MIN_DIGITS = 6
_TYPED_SEPARATORS = re.compile(r"[\s.+()-]")


def phone_query(text: str) -> str:
    """What a search box's ``text`` asks of a phone number: its national digits ("0912 345 678"
    and "+84 912 345 678" are both "912345678"; the last six digits or more, themselves), or ""
    when it is no number (a name, a code, fewer than six digits)."""
    digits = _TYPED_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if not (digits.isascii() and digits.isdigit() and len(digits) >= _LOOKUP_MIN_DIGITS):
        return ""
    return _national(digits)


def phone_matches(e164: str | None, query: str) -> bool:
    """Whether the stored number ``e164`` is the one ``query`` (``phone_query``'s) asks for:
    the same national digits, or ending with them."""
    return bool(query and e164) and _national(str(e164).removeprefix("+")).endswith(query)


def _national(digits: str) -> str:
    """A number's digits without the country code or the trunk 0 before them; a number's last
    digits are left as they are (their zeros are their own)."""
    if digits.startswith(_VN_COUNTRY_CODE) and len(digits) > 9:
        return digits[len(_VN_COUNTRY_CODE) :]
    if digits.startswith("0") and len(digits) > 9:
        return digits[1:]
    return digits


def mask_phone(e164: str) -> str:
    """Hide all but the country code and last 3 digits, for logs: "+84*******678"."""
    digits = "".join(ch for ch in e164 if "0" <= ch <= "9")
    # A fixed-width mask so the log does not even reveal the number's length.
    if len(digits) <= _KEEP_LAST + len(_VN_COUNTRY_CODE):
        return _MASK
    prefix = "+" + _VN_COUNTRY_CODE if digits.startswith(_VN_COUNTRY_CODE) else "+"
    return prefix + _MASK + digits[-_KEEP_LAST:]


def vn_mobile(e164: str) -> str | None:
    """A stored number as a Vietnamese mobile is dialled at home ("0912345678": what
    zalo.me takes after its slash), or None for a landline or a foreign number."""
    nsn = e164.removeprefix("+" + _VN_COUNTRY_CODE)
    if nsn == e164 or not nsn.isdigit() or len(nsn) != 9 or nsn[0] not in _MOBILE_LEADING_DIGITS:
        return None
    return "0" + nsn


def display_phone(e164: str) -> str:
    """A stored number as an office dials it: "0912 345 678", "024 3825 1234"; foreign
    numbers stay E.164. The spaces also keep Excel from reading it as a number."""
    if not e164.startswith("+" + _VN_COUNTRY_CODE):
        return e164
    nsn = e164[1 + len(_VN_COUNTRY_CODE) :]
    if not (nsn.isdigit() and _is_vn_nsn(nsn)):
        return e164
    if len(nsn) == 9:  # mobile: 0912 345 678
        return f"0{nsn[:3]} {nsn[3:6]} {nsn[6:]}"
    area = 2 if nsn[:2] in _TWO_DIGIT_AREAS else 3
    return f"0{nsn[:area]} {nsn[area:-4]} {nsn[-4:]}"
