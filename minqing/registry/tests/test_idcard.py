"""身份证号 validation (each rule names the part that is wrong) and masking."""

from datetime import date

import pytest

from minqing.core.idcard import IdNumberError, check_digit, make_id_number, parse_id_number
from minqing.core.masking import mask_id_number, mask_phone

GOOD = make_id_number("430302", date(1985, 6, 15), 123)  # order 123: odd → male


def test_a_valid_number_gives_birth_date_and_gender():
    info = parse_id_number(GOOD)
    assert info.birth_date == date(1985, 6, 15)
    assert info.gender == "M"
    assert parse_id_number(make_id_number("430302", date(1990, 1, 2), 124)).gender == "F"


def test_lowercase_x_and_spaces_are_accepted():
    number = next(
        make_id_number("430302", date(1980, 1, 1), n)
        for n in range(1000)
        if make_id_number("430302", date(1980, 1, 1), n).endswith("X")
    )
    info = parse_id_number(" " + number[:-1] + "x ")
    assert info.number == number


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (GOOD[:17], "应为 18 位,现为 17 位"),
        (GOOD + "1", "应为 18 位,现为 19 位"),
        ("", "应为 18 位,现为 0 位"),
    ],
)
def test_length(value, fragment):
    with pytest.raises(IdNumberError) as err:
        parse_id_number(value)
    assert fragment in err.value.message


def test_characters():
    with pytest.raises(IdNumberError) as err:
        parse_id_number("43030219850615A12X")
    assert "前 17 位应为数字" in err.value.message


@pytest.mark.parametrize("region", ["990302", "000000", "430000"[:2] + "0000"])
def test_region(region):
    number = make_id_number(region, date(1985, 6, 15), 123)
    with pytest.raises(IdNumberError) as err:
        parse_id_number(number)
    assert "地区码" in err.value.message
    assert region in err.value.message


@pytest.mark.parametrize(
    ("digits", "fragment"),
    [("19850230", "不是有效日期"), ("19851301", "不是有效日期"), ("18800101", "不合理")],
)
def test_date(digits, fragment):
    first17 = f"430302{digits}123"
    with pytest.raises(IdNumberError) as err:
        parse_id_number(first17 + check_digit(first17))
    assert fragment in err.value.message
    assert digits in err.value.message


def test_date_in_the_future():
    first17 = "430302" + "29990101" + "123"
    with pytest.raises(IdNumberError) as err:
        parse_id_number(first17 + check_digit(first17))
    assert "不合理" in err.value.message


def test_checksum_names_the_expected_digit():
    wrong = "0" if GOOD[-1] != "0" else "1"
    with pytest.raises(IdNumberError) as err:
        parse_id_number(GOOD[:17] + wrong)
    assert "校验位错误" in err.value.message
    assert f"应为 {GOOD[-1]}" in err.value.message


def test_id_number_is_masked_keeping_the_region_only():
    assert mask_id_number(GOOD) == GOOD[:6] + "*" * 12
    assert GOOD[6:14] not in mask_id_number(GOOD)
    assert mask_id_number("") == ""


def test_phone_is_masked():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0731-5551234") == "073*****1234"
    # Too short to hide four digits between prefix and tail: only the last two show.
    assert mask_phone("5551234") == "*****34"
    assert mask_phone("") == ""
