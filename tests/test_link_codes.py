"""Personal codes: eight characters a person types from paper where no link can carry the
invitation's token (a channel without a start payload, such as Zalo) — their shape, how typing is
forgiven, and their issue beside the token (import, re-issue)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.domain import tokens
from bot.domain.tokens import (
    CODE_ALPHABET,
    CODE_LENGTH,
    code_shaped,
    format_link_code,
    new_link_code,
    parse_link_code,
)
from bot.services import Services
from storage.models import Invitation
from tests.test_services import row


def test_a_code_is_eight_characters_of_25_shown_in_two_groups_of_four() -> None:
    code = new_link_code()
    assert len(code) == CODE_LENGTH == 8 and set(code) <= set(CODE_ALPHABET)
    assert len(CODE_ALPHABET) == len(set(CODE_ALPHABET)) == 25
    assert format_link_code("K7PX3QBM") == "K7PX-3QBM"
    assert round(math.log2(len(CODE_ALPHABET) ** CODE_LENGTH), 1) == 37.2  # the README's bits


def test_the_alphabet_has_no_look_alikes_and_nothing_a_vietnamese_keyboard_rewrites() -> None:
    # 0/O, 1/I/L read alike on paper; vowels take tone marks under Telex and VNI ("AS" → "Á",
    # "A1" → "Á"), "W" becomes "Ư" and "DD" / "D9" become "Đ".
    assert set(CODE_ALPHABET).isdisjoint("0O1IL" + "AEUY" + "WD")


@pytest.mark.parametrize(
    "typed",
    [
        "K7PX-3QBM",
        "k7px-3qbm",
        "K7PX 3QBM",
        "  k7px3qbm\n",
        "K7 PX–3Q BM",
        "K7PX.3QBM",
        "Ｋ７ＰＸ３ＱＢＭ",
    ],
)
def test_parsing_ignores_case_spaces_and_dashes(typed: str) -> None:
    assert parse_link_code(typed) == "K7PX3QBM"


@pytest.mark.parametrize(
    "typed",
    ["K7PX-3QB", "K7PX-3QBMM", "K7PX-3QBO", "K7PX-3QB1", "xin chào", "", "/start", "K7PX-3QBĐ"],
)
def test_anything_but_eight_characters_of_the_alphabet_is_no_code(typed: str) -> None:
    assert parse_link_code(typed) is None


def test_a_new_code_is_none_of_the_taken_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: Iterator[str] = iter("BBBBBBBB" + "BBBBBBBB" + "CCCCCCCC")
    monkeypatch.setattr(tokens.secrets, "choice", lambda _alphabet: next(drawn))
    assert new_link_code({"BBBBBBBB"}) == "CCCCCCCC"


def test_a_new_code_has_a_letter_so_it_is_found_among_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Digits alone are read as a phone number among words: «2345 6789 hoặc …» linked nobody.
    drawn: Iterator[str] = iter("23456789" + "CCCCCCCC")
    monkeypatch.setattr(tokens.secrets, "choice", lambda _alphabet: next(drawn))
    assert new_link_code() == "CCCCCCCC"


async def test_every_invitation_gets_its_own_code_beside_its_token(services: Services) -> None:
    await services.delegates.import_rows([row("A1"), row("A2"), row("A3")], actor="t")
    links = await services.invitations.links()
    codes = [link.link_code for link in links]
    assert len(set(codes)) == 3 and all(parse_link_code(code) == code for code in codes)
    async with services.ctx.sessions() as session:
        stored = set(await session.scalars(select(Invitation.link_code)))
    assert stored == set(codes)


async def test_an_import_never_issues_a_code_issued_before(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.delegates.import_rows([row("A1")], actor="t")
    first = (await services.invitations.links())[0].link_code
    drawn = iter(first + "CCCCCCCC")  # the generator draws the taken code first
    monkeypatch.setattr(tokens.secrets, "choice", lambda _alphabet: next(drawn))
    await services.delegates.import_rows([row("A1"), row("A2")], actor="t")
    codes = {link.code: link.link_code for link in await services.invitations.links()}
    assert codes == {"A1": first, "A2": "CCCCCCCC"}


async def test_a_reissue_issues_a_new_code_and_revokes_the_old_one(services: Services) -> None:
    await services.delegates.import_rows([row("A1")], actor="t")
    old = (await services.invitations.links())[0].link_code
    result = await services.invitations.reissue(services.access.local_operator(), "A1")
    new = (await services.invitations.links())[0].link_code
    assert result.link_code == new and new != old and parse_link_code(new) == new
    async with services.ctx.sessions() as session:
        rows = {
            i.link_code: i.revoked_at is not None for i in await session.scalars(select(Invitation))
        }
    assert rows == {old: True, new: False}


@pytest.mark.parametrize(
    ("typed", "spelt"),
    [("ABCD-1234", "ABCD1234"), ("k7px 03qb", "K7PX03QB"), ("K7PXI3QB", "K7PXI3QB")],
)
def test_a_code_written_with_characters_codes_never_use_is_code_shaped(
    typed: str, spelt: str
) -> None:
    assert parse_link_code(typed) is None
    assert code_shaped(typed) == spelt


@pytest.mark.parametrize(
    ("typed", "spelt"),
    [
        ("KXPB-MQRI", "KXPBMQRI"),  # as the slip prints it, «T» read as «I»
        ("kxpb-mqro", "KXPBMQRO"),
        ("KXPB–MQLO", "KXPBMQLO"),  # an en dash, as a phone's keyboard may put it
        ("THUY-LINH", "THUYLINH"),  # dashed: the slip's form, whatever the letters
        ("kxpb mqro", "KXPBMQRO"),  # one letter alone outside the alphabet: one misread
        ("KXPBMQRI", "KXPBMQRI"),
    ],
)
def test_a_code_of_letters_only_misread_from_paper_is_code_shaped(typed: str, spelt: str) -> None:
    # About one code in twenty has no digit: misread («KXPB-MQRI»), it was greeted with the
    # welcome and asked for the code she had just sent, while one with a digit was told wrong.
    assert parse_link_code(typed) is None
    assert code_shaped(typed) == spelt


@pytest.mark.parametrize(
    "typed", ["Minh Tung", "MINH TUNG", "camonchi", "Thuy.Linh", "Chao Hung", "CHAOBUOI"]
)
def test_two_words_without_marks_or_eight_letters_glued_are_not_code_shaped(typed: str) -> None:
    # Two Vietnamese words (or a glued pair) have two vowels at least, and no code has any.
    assert code_shaped(typed) is None


@pytest.mark.parametrize(
    "typed", ["K7PX-3QBN", "Thuy Linh", "0912 3456", "12345678", "Xin chào", "tham du", "K7PX-3QB"]
)
def test_a_real_code_a_name_of_two_words_or_digits_alone_are_not_code_shaped(typed: str) -> None:
    # A real code is parsed, not refused; «Thuy Linh» is a name and «0912 3456» a phone's.
    assert code_shaped(typed) is None
