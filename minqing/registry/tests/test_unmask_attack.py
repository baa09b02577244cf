"""The masking policy attacked (core/masking.py): for every role, collect what it gets about
one resident from the household page, the search page, the API and the xlsx export, then
enumerate the valid 身份证号 consistent with all of it. At least 10,000 must remain.

Run with `-s` to see the count per role."""

import io
import json
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from minqing.conftest import login
from minqing.core.idcard import WEIGHTS, check_digit, make_id_number
from minqing.core.masking import age_on
from minqing.core.permissions import has_perm
from minqing.registry.models import Relation
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

REGION = "430302"
BIRTH = date(1962, 5, 8)
NUMBER = make_id_number(REGION, BIRTH, 111)  # order 111: odd, a man
MIN_CANDIDATES = 10_000
ROLES = ("grid", "cadre", "township", "dept", "leader", "supervisor", "zhengfa", "admin")


@pytest.fixture
def victim(tree):
    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-ATTACK")
    return ResidentFactory(
        household=household,
        name="张德书",
        relation=Relation.HEAD,
        id_number=NUMBER,
        phone="13812345678",
    )


def collect(client, user, resident) -> dict:
    """Everything the role gets without a reveal: texts of pages and API answers, and the
    rows of every export it may download."""
    login(client, user)
    texts, rows = [], []
    for url in (
        f"/registry/households/{resident.household_id}/",
        "/registry/residents/?q=张德书",
        "/registry/households/?q=张德书",
        f"/registry/residents/{resident.pk}/edit/",
    ):
        response = client.get(url)
        if response.status_code == 200:
            texts.append(response.content.decode())
    for url in (
        f"/api/registry/residents/{resident.pk}",
        f"/api/registry/households/{resident.household_id}",
        "/api/registry/residents?q=张德书",
        "/api/registry/households?q=张德书",
    ):
        response = client.get(url)
        if response.status_code == 200:
            texts.append(json.dumps(response.json(), ensure_ascii=False))
    for url in (
        "/registry/export/residents.xlsx?q=张德书",
        "/registry/export/households.xlsx?q=张德书",
        "/api/registry/export/residents.xlsx?q=张德书",
    ):
        response = client.get(url)
        if response.status_code == 200:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            sheet = load_workbook(io.BytesIO(body), read_only=True).active
            got = [list(r) for r in sheet.iter_rows(values_only=True)]
            rows.append(got)
            texts.append(json.dumps(got, ensure_ascii=False, default=str))
    return {"texts": texts, "sheets": rows}


def knowledge(seen: dict, resident) -> dict:
    """What an attacker reads off it: ID characters at known positions, a birth date in any
    usual spelling, an age, the gender."""
    text = "\n".join(seen["texts"])
    known = {}
    for mask in re.findall(r"(?<![0-9*])[0-9*Xx]{18}(?![0-9*])", text):
        if not mask.startswith(REGION):
            continue
        for i, c in enumerate(mask):
            if c != "*":
                known[i] = c.upper()
    b = BIRTH
    spellings = {
        f"{b:%Y-%m-%d}",
        f"{b:%Y%m%d}",
        f"{b:%Y/%m/%d}",
        f"{b.year}年{b.month}月{b.day}日",
        f"{b.year}-{b.month}-{b.day}",
        f"{b:%Y-%m-%d} 00:00:00",
        f"{b:%Y-%m-%d}T00:00:00",
    }
    birth = BIRTH if any(s in text for s in spellings) else None
    ages = set()
    for body in seen["texts"]:
        for m in re.finditer(r'"age": (\d+)', body):
            ages.add(int(m.group(1)))
        for m in re.finditer(r"(\d+) 岁", body):
            ages.add(int(m.group(1)))
    for sheet in seen["sheets"]:
        header = sheet[0]
        if "年龄" in header:
            for row in sheet[1:]:
                if resident.name in row:
                    ages.add(int(row[header.index("年龄")]))
    gender = "M" if ('"gender": "M"' in text or "男" in text) else None
    return {"known": known, "birth": birth, "ages": ages, "gender": gender}


def candidates(k: dict, today: date) -> int:
    """Count the valid IDs (region, real date 1890..today, order, check digit) consistent
    with what is known."""
    known = k["known"]
    region = "".join(known.get(i, "") for i in range(6))
    assert region == REGION  # the attacker assumes the area's region anyway
    if k["birth"] is not None:
        days = [k["birth"]]
    else:
        start = date(1890, 1, 1)
        days = [start + timedelta(n) for n in range((today - start).days + 1)]
        if k["ages"]:
            days = [d for d in days if age_on(d, today) in k["ages"]]
    days = [d for d in days if all(known.get(6 + i, c) == c for i, c in enumerate(f"{d:%Y%m%d}"))]
    orders = [
        f"{o:03d}"
        for o in range(1000)
        if all(known.get(14 + i, c) == c for i, c in enumerate(f"{o:03d}"))
        and (k["gender"] is None or (o % 2 == 1) == (k["gender"] == "M"))
    ]
    if 17 not in known:
        return len(days) * len(orders)
    # The check digit is shown: keep the (date, order) pairs it accepts.
    count = 0
    for d in days:
        head = REGION + f"{d:%Y%m%d}"
        partial = sum(int(c) * w for c, w in zip(head, WEIGHTS, strict=False))
        for o in orders:
            total = partial + sum(int(c) * w for c, w in zip(o, WEIGHTS[14:], strict=True))
            if "10X98765432"[total % 11] == known[17]:
                count += 1
    return count


def test_candidate_count_is_checked_by_a_working_attack():
    """The counter itself: a full date and the old mask (last four) pin the ID."""
    k = {"known": dict(enumerate(REGION)), "birth": BIRTH, "ages": set(), "gender": "M"}
    k["known"].update({14 + i: c for i, c in enumerate(NUMBER[14:])})
    assert candidates(k, timezone.localdate()) == 1
    assert check_digit(NUMBER[:17]) == NUMBER[17]


@pytest.mark.parametrize("role", ROLES)
def test_what_a_role_sees_leaves_ten_thousand_candidate_ids(client, users, victim, role):
    user = getattr(users, role)
    seen = collect(client, user, victim)
    assert seen["texts"], "the role should see the resident somewhere"
    assert NUMBER not in "\n".join(seen["texts"])
    k = knowledge(seen, victim)
    n = candidates(k, timezone.localdate())
    print(
        f"\n{role}: reveal={has_perm(user, 'registry.reveal_id')} candidates={n:,} "
        f"(birth date {'shown' if k['birth'] else 'hidden'}, ages {sorted(k['ages'])}, "
        f"ID digits known at {sorted(i for i in k['known'] if i >= 6)})"
    )
    assert n >= MIN_CANDIDATES


@pytest.mark.parametrize("role", ("grid", "leader", "supervisor", "dept"))
def test_what_a_role_sees_of_a_phone_leaves_ten_thousand_candidates(client, users, victim, role):
    text = "\n".join(collect(client, getattr(users, role), victim)["texts"])
    assert "13812345678" not in text
    masks = set(re.findall(r"138\*+5678", text))
    assert masks, "the masked phone is shown"
    for mask in masks:
        assert 10 ** mask.count("*") >= MIN_CANDIDATES
