import pytest

from bot.domain.phones import (
    display_phone,
    first_phone,
    mask_phone,
    normalize_phone,
    phone_matches,
    phone_query,
    vn_mobile,
)
from bot.domain.sms import sms_length, sms_parts


@pytest.mark.parametrize(
    "raw",
    [
        "0912 345 678",
        "0912.345.678",
        "0912-345-678",
        "0912345678",
        "+84 912 345 678",
        "+84912345678",
        "84912345678",
        "84 912 345 678",
        "0084 912 345 678",
        "+84 (0) 912 345 678",
        "  0912 345 678  ",
        "0912\u00a0345\u00a0678",  # no-break spaces from pasted web text
        "'0912345678",  # Excel's force-text apostrophe
    ],
)
def test_vietnamese_mobile_formats_normalise_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+84912345678"


def test_nine_digit_mobile_without_leading_zero_is_what_excel_left_of_a_number() -> None:
    assert normalize_phone("912345678") == "+84912345678"


@pytest.mark.parametrize(
    "raw", ["(024) 3825 1234", "024 3825 1234", "+84 24 3825 1234", "842438251234"]
)
def test_hanoi_landline_normalises_with_area_code(raw: str) -> None:
    assert normalize_phone(raw) == "+842438251234"


def test_landline_stored_as_number_without_leading_zero_is_accepted() -> None:
    assert normalize_phone("2438251234") == "+842438251234"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+33 1 42 68 53 00", "+33142685300"),
        ("+1 (202) 555-0143", "+12025550143"),
        ("+65 6123 4567", "+6561234567"),
    ],
)
def test_foreign_numbers_with_plus_are_kept_as_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "không có",
        "0912 345 67a",
        "091234567",  # one digit short
        "09123456789",  # one digit too many
        "0112345678",  # mobiles never start with 1 after the trunk 0
        "0612345678",
        "12345",
        "+84 12 345",  # "+84" but not a plausible Vietnamese number
        "+1234567",  # foreign, too short
        "+1234567890123456",  # foreign, longer than E.164 allows
        "+0912345678",
        "0912345678 / 0987654321",  # two numbers in one cell
        "0912345678, 0987654321",
        "++84912345678",
        "0912+345678",
    ],
)
def test_implausible_numbers_are_rejected(raw: str) -> None:
    assert normalize_phone(raw) is None


def test_mask_keeps_country_code_and_last_three_digits() -> None:
    assert mask_phone("+84912345678") == "+84*******678"


def test_mask_hides_landline_length_too() -> None:
    assert mask_phone("+842438251234") == "+84*******234"


def test_mask_of_foreign_number_keeps_only_plus_and_last_three_digits() -> None:
    assert mask_phone("+33142685300") == "+*******300"


def test_mask_never_returns_the_digits_of_a_short_or_odd_value() -> None:
    assert mask_phone("12345") == "*******"
    assert mask_phone("") == "*******"
    assert "912345" not in mask_phone("0912345678")


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+84912345678", "0912 345 678"),
        ("+84386003246", "0386 003 246"),
        ("+842438251234", "024 3825 1234"),
        ("+842838221234", "028 3822 1234"),
        ("+842033825123", "0203 382 5123"),
        ("+4915112345678", "+4915112345678"),
    ],
)
def test_display_writes_a_number_as_an_office_dials_it(e164: str, shown: str) -> None:
    assert display_phone(e164) == shown
    assert normalize_phone(shown) == e164  # and it reads back as the same number


@pytest.mark.parametrize(
    ("cell", "e164", "written"),
    [
        ("0912.345.679 (Zalo)", "+84912345679", "0912.345.679"),
        ("0912345678 - 02438251234", "+84912345678", "0912345678"),
        ("0912345678/0987654321", "+84912345678", "0912345678"),
        ("0912345678; 0987654321", "+84912345678", "0912345678"),
        ("0912345678\n0987654321", "+84912345678", "0912345678"),
        ("0912345678 hoặc 0987654321", "+84912345678", "0912345678"),
        ("ĐT: 0912 345 678", "+84912345678", "0912 345 678"),
        ("DĐ 0912345678, CQ 024 3825 1234", "+84912345678", "0912345678"),
        ("0912345678-0987654321", "+84912345678", "0912345678"),
        ("0912 345 678 0987 654 321", "+84912345678", "0912 345 678"),
        ("(024) 3825 1234 - 0912345678", "+842438251234", "(024) 3825 1234"),
        ("+84 912 345 678 (cá nhân)", "+84912345678", "+84 912 345 678"),
        ("Zalo 0912345678", "+84912345678", "0912345678"),
        ("0912 345 - 0987654321", "+84987654321", "0987654321"),
    ],
)
def test_first_phone_takes_the_first_plausible_number_of_a_cell(
    cell: str, e164: str, written: str
) -> None:
    assert first_phone(cell) == (e164, written)


@pytest.mark.parametrize(
    "cell",
    [
        "Zalo",
        "12/05/1970",
        "09l2345678",  # a letter inside a number is not a separator
        "0912 345",
        "0912 345 6789",  # one digit too many: never cut down to a number that fits
        "0912345678 0243825123",  # the second half is no number, so the whole is not two
    ],
)
def test_first_phone_never_guesses_a_number_out_of_a_wrong_one(cell: str) -> None:
    assert first_phone(cell) is None


@pytest.mark.parametrize(
    ("typed", "asked"),
    [
        ("0912 345 678", "912345678"),
        ("+84 (912) 345.678", "912345678"),
        ("84912345678", "912345678"),
        ("\uff10\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "912345678"),  # full width
        ("045678", "045678"),  # the last six digits: their zero is their own
        ("2438251234", "2438251234"),  # a landline typed without its 0
    ],
)
def test_a_search_reads_a_typed_phone_number_as_its_national_digits(typed: str, asked: str) -> None:
    assert phone_query(typed) == asked


@pytest.mark.parametrize("typed", ["45678", "DB003", "Nguyễn Lan", "0912 345 67x", "١٢٣٤٥٦٧"])
def test_a_search_of_a_name_a_code_or_five_digits_asks_for_no_phone_number(typed: str) -> None:
    assert phone_query(typed) == ""


def test_a_stored_number_matches_its_whole_digits_or_its_last_ones_only() -> None:
    assert phone_matches("+84912345678", phone_query("0912345678"))
    assert phone_matches("+84912345678", phone_query("345678"))
    assert phone_matches("+842438251234", phone_query("024 3825 1234"))
    assert not phone_matches("+84912345678", phone_query("912345"))  # not where it ends
    assert not phone_matches(None, phone_query("345678"))
    assert not phone_matches("+84912345678", phone_query("Lan"))


def test_only_a_vietnamese_mobile_has_a_number_zalo_me_opens() -> None:
    assert vn_mobile("+84912345678") == "0912345678"
    assert vn_mobile("+842438251234") is None  # a Hanoi landline: no Zalo
    assert vn_mobile("+33612345678") is None  # foreign: zalo.me reads its digits as Vietnamese
    assert vn_mobile("+8491234567") is None


def test_an_sms_with_diacritics_is_counted_in_ucs2_parts_and_plain_latin_in_gsm7() -> None:
    assert sms_parts("a" * 160) == 1 and sms_parts("a" * 161) == 2  # 153 a part joined
    assert sms_parts("a" * 306) == 2 and sms_parts("a" * 307) == 3
    assert sms_length("[€]") == (6, True)  # the extension table takes two places each
    assert sms_parts("đ" * 70) == 1 and sms_parts("đ" * 71) == 2  # 67 a part joined
    assert sms_parts("Hà Nội " * 28 + "abcde") == 3 == sms_parts("đ" * 201)
    assert sms_parts("đ" * 202) == 4
    assert sms_length("Hà Nội") == (6, False)
