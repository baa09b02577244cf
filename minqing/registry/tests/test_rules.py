"""One set of field rules (registry/rules.py): each rule on its own, and a property test
that the service accepts a person exactly when the importer does, storing the same
values."""

import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minqing.core.errors import DomainError
from minqing.core.idcard import make_id_number
from minqing.core.imports import import_commit, import_start
from minqing.core.models import Job
from minqing.registry import rules
from minqing.registry.models import Relation, Resident
from minqing.registry.services import resident_create
from minqing.registry.tests.factories import HouseholdFactory, ResidentFactory

from .test_import import HEADERS, QX1


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13807321234", "13807321234"),
        ("138 0732 1234", "13807321234"),
        ("138-0732-1234", "13807321234"),
        ("+86 138 0732 1234", "13807321234"),
        ("8613807321234", "13807321234"),
        ("13807321234.0", "13807321234"),  # a numeric Excel cell
        ("１３８０７３２１２３４", "13807321234"),  # full-width
        ("0731-52801234", "0731-52801234"),
        ("073152801234", "0731-52801234"),
        ("010 62345678", "010-62345678"),
        ("52801234", "52801234"),
        ("", ""),
    ],
)
def test_phone_forms_are_stored_one_way(typed, stored):
    assert rules.clean_phone(typed) == stored


@pytest.mark.parametrize("typed", ["12345678", "12345", "1380732123", "abc", "138073212345"])
def test_bad_phones_are_refused_everywhere(typed):
    with pytest.raises(rules.RuleError):
        rules.clean_phone(typed)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2001-03-05", date(2001, 3, 5)),
        ("2001.3.5", date(2001, 3, 5)),
        ("2001/3/5", date(2001, 3, 5)),
        ("2001年3月5日", date(2001, 3, 5)),
        ("20010305", date(2001, 3, 5)),
        ("２００１年３月５日", date(2001, 3, 5)),
        ("2001-03-05 00:00:00", date(2001, 3, 5)),
        ("2001年3月", date(2001, 3, 1)),
        (date(2001, 3, 5), date(2001, 3, 5)),
    ],
)
def test_every_date_form(typed, expected):
    assert rules.clean_date(typed) == expected


def test_id_rules():
    idn = make_id_number("430302", date(1983, 3, 16), 7)
    assert rules.clean_id_number(f" {idn.lower()} ")[0] == idn
    x = next(
        make_id_number("430302", date(1983, 3, 16), n)
        for n in range(1, 999)
        if make_id_number("430302", date(1983, 3, 16), n).endswith("X")
    )
    assert rules.clean_id_number(x.lower())[0] == x
    full = idn.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert rules.clean_id_number(full)[0] == idn
    with pytest.raises(rules.RuleError, match="存成了数字"):
        rules.clean_id_number("4.303021E+17")
    with pytest.raises(rules.RuleError, match="存成了数字"):
        rules.clean_id_number(idn[:15] + "000")


def test_relation_words_and_closest_values():
    assert rules.clean_relation("儿子") == Relation.CHILD
    assert rules.clean_relation(" 妻子 ") == Relation.SPOUSE
    with pytest.raises(rules.RuleError) as exc:
        rules.clean_relation("干儿子")
    assert "最接近的写法" in exc.value.message


# ---------------------------------------------------------------- service == importer

mobile = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
decorated = st.builds(
    lambda m, style: {
        0: m,
        1: f"{m[:3]} {m[3:7]} {m[7:]}",
        2: f"+86 {m}",
        3: f"{m[:3]}-{m[3:7]}-{m[7:]}",
        4: m.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}),
    }[style],
    mobile,
    st.integers(0, 4),
)
phones = st.one_of(
    st.just(""),
    decorated,
    st.from_regex(r"0[1-9][0-9]{1,2}-?[2-9][0-9]{6,7}", fullmatch=True),
    st.from_regex(r"[0-9 +\-]{1,14}", fullmatch=True),
)
names = st.one_of(
    st.sampled_from(["张三", " 李四 ", "欧阳娜娜", "Ａｌｉ", "王" * 51, "", "  "]),
    st.text(alphabet="赵钱孙李周吴郑王 ·", min_size=1, max_size=8),
)


def _ids(draw_n, day, good):
    idn = make_id_number("430302", day, draw_n)
    return idn if good else idn[:17] + ("0" if idn[17] != "0" else "1")


ids = st.one_of(
    st.builds(
        _ids, st.integers(1, 999), st.dates(date(1920, 1, 1), date(2010, 12, 31)), st.booleans()
    ),  # fmt: skip
    st.builds(
        lambda n: make_id_number("430302", date(1990, 5, 5), n).lower().replace("x", "x "),
        st.integers(1, 999),
    ),
    st.sampled_from(["", "123", "4.30302E+17"]),
)


# the household's head is born on 1940-01-01: a child or parent the other side of it is
# refused by both (rules.relation_age_problem)
relations = st.sampled_from(
    [Relation.OTHER, Relation.CHILD, Relation.PARENT, Relation.GRANDCHILD, Relation.GRANDPARENT]
    + [Relation.SPOUSE]
)


def _via_service(actor, household, name, idn, phone, relation=Relation.OTHER):
    try:
        with transaction.atomic():
            r = resident_create(
                actor=actor,
                household=household,
                name=name,
                id_number=idn,
                relation=relation,
                phone=phone,
            )
            stored = (r.name, r.id_number, r.phone, r.relation)
            raise _Rollback(stored)
    except _Rollback as done:
        return done.stored
    except DomainError:
        return None


def _via_import(actor, name, idn, phone, relation=Relation.OTHER):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADERS)
    word = str(Relation(relation).label)  # as a ledger writes it
    w.writerow([QX1, "QX-PROP", "", name, idn, word, phone, "", "", "", ""])
    upload = SimpleUploadedFile("p.csv", buf.getvalue().encode("utf-8-sig"))
    try:
        with transaction.atomic():
            job = import_start(actor=actor, kind="registry", upload=upload)
            job.refresh_from_db()
            if job.status != Job.Status.PREVIEW:
                return None
            import_commit(actor=actor, job_id=job.pk)
            job.refresh_from_db()
            assert job.status == Job.Status.DONE, job.message
            r = Resident.objects.get(household__number="QX-PROP", relation=relation)
            raise _Rollback((r.name, r.id_number, r.phone, r.relation))
    except _Rollback as done:
        return done.stored


class _Rollback(Exception):
    def __init__(self, stored):
        self.stored = stored


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=names, idn=ids, phone=phones, relation=relations)
def test_service_accepts_a_person_exactly_when_the_importer_does(
    users, tree, name, idn, phone, relation
):
    try:
        with transaction.atomic():  # each example leaves the database as it found it
            household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-PROP")
            head_id = make_id_number("430302", date(1940, 1, 1), 1)
            ResidentFactory(household=household, relation=Relation.HEAD, id_number=head_id)
            service = _via_service(users.cadre, household, name, idn, phone, relation)
            importer = _via_import(users.cadre, name, idn, phone, relation)
            raise _Rollback((service, importer))
    except _Rollback as done:
        service, importer = done.stored
    assert service == importer, (name, idn, phone, relation, service, importer)


_NAME_CHARS = "张王李赵曾单解仇朴查区乐覃万俟尉迟长孙德书小明桂兰張三歐陽娜龍 ·Ab"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_NAME_CHARS, max_size=6))
def test_the_importers_name_keys_are_the_services(name):
    """The importer puts the pinyin of a name together from its surname and given name
    (NameKeys, cached per part); it gives exactly what name_keys gives the services."""
    from minqing.registry.search_keys import SURNAME_READINGS, NameKeys, name_keys

    keys = NameKeys()
    assert keys(name) == name_keys(name)
    for surname in SURNAME_READINGS:
        for given_name in ("", "德", "小明", " 明", "·明"):
            assert keys(surname + given_name) == name_keys(surname + given_name)


def test_services_refuse_relations_the_ages_contradict_as_the_importer_does(users, tree):
    from minqing.core.errors import ValidationFailed
    from minqing.registry.services import resident_update

    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-AGE")
    head_id = make_id_number("430302", date(1960, 1, 1), 1)
    ResidentFactory(household=household, relation=Relation.HEAD, id_number=head_id)
    older = make_id_number("430302", date(1950, 1, 1), 3)
    with pytest.raises(ValidationFailed, match="不晚于户主"):
        resident_create(
            actor=users.cadre, household=household, name="张老", id_number=older,
            relation=Relation.CHILD,
        )  # fmt: skip
    younger = make_id_number("430302", date(1990, 1, 1), 5)
    with pytest.raises(ValidationFailed, match="不早于户主"):
        resident_create(
            actor=users.cadre, household=household, name="张小", id_number=younger,
            relation=Relation.PARENT,
        )  # fmt: skip
    person = resident_create(
        actor=users.cadre, household=household, name="张小", id_number=younger,
        relation=Relation.CHILD,
    )  # fmt: skip
    with pytest.raises(ValidationFailed, match="不早于户主"):
        resident_update(
            actor=users.cadre, resident=person, relation=Relation.GRANDPARENT,
            version=person.version,
        )  # fmt: skip
    person.refresh_from_db()
    assert person.relation == Relation.CHILD
