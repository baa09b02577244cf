"""core.masking: the shapes it masks, and the numbers it leaves alone."""

from datetime import date

from minqing.core.idcard import make_id_number
from minqing.core.masking import age_on, phone_visible_tail, scrub, scrub_text

ID = make_id_number("430302", date(1980, 3, 16), 121)


def test_scrub_masks_ids_and_mobiles_inside_text():
    text = f"身份证 {ID},手机13812345678。"
    assert scrub_text(text) == "身份证 430302************,手机138****5678。"
    assert scrub({"q": ID, "rows": [ID.lower()], "n": 3}) == {
        "q": "430302" + "*" * 12,
        "rows": ["430302" + "*" * 12],
        "n": 3,
    }


def test_scrub_leaves_household_numbers_and_area_codes():
    for number in ("4303721002010010001", "430372100201001", "430372100000", "0731-52801234"):
        assert scrub_text(number) == number


def test_phone_tail_is_what_the_mask_shows():
    assert phone_visible_tail("13812345678") == "5678"
    assert phone_visible_tail("0731-52801234") == "1234"
    assert phone_visible_tail("5280123") == ""  # its mask shows two digits only


def test_age_in_full_years():
    assert age_on(date(1980, 3, 16), date(2024, 3, 15)) == 43
    assert age_on(date(1980, 3, 16), date(2024, 3, 16)) == 44
    assert age_on(None, date(2024, 1, 1)) is None
