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
    # the words ledgers use, some saying a gender the 身份证号 must agree with
    + ["儿子", "女儿", "妻子", "丈夫", "孙女", "父亲", "儿媳", "女婿"]
)


def _code(relation: str) -> str:
    return relation if relation in Relation.values else rules.clean_relation(relation)


def _word(relation: str) -> str:
    """As a ledger writes it: the label of a code, or the word itself."""
    return str(Relation(relation).label) if relation in Relation.values else relation


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
    w.writerow([QX1, "QX-PROP", "", name, idn, _word(relation), phone, "", "", "", ""])
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
            r = Resident.objects.get(household__number="QX-PROP", relation=_code(relation))
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


# ---------------------------------------------------------------- moves: one rule too


def _move_via_service(actor, person, target, relation):
    from minqing.registry.services import resident_move

    try:
        with transaction.atomic():
            resident_move(
                actor=actor, resident=person, kind="transfer", date=date(2024, 6, 1),
                to_household=target, relation=relation,
            )  # fmt: skip
            r = Resident.objects.get(pk=person.pk)
            raise _Rollback((r.household.number, r.relation))
    except _Rollback as done:
        return done.stored
    except DomainError:
        return None


def _move_via_import(actor, person, relation):
    """The ledger lists the registered person under QX-PROP: the importer moves them."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADERS)
    w.writerow([QX1, "QX-PROP", "", person.name, person.id_number, _word(relation), person.phone])
    upload = SimpleUploadedFile("m.csv", buf.getvalue().encode("utf-8-sig"))
    try:
        with transaction.atomic():
            job = import_start(actor=actor, kind="registry", upload=upload)
            job.refresh_from_db()
            if job.status != Job.Status.PREVIEW:
                return None
            import_commit(actor=actor, job_id=job.pk)
            job.refresh_from_db()
            assert job.status == Job.Status.DONE, job.message
            r = Resident.objects.get(pk=person.pk)
            raise _Rollback((r.household.number, r.relation))
    except _Rollback as done:
        return done.stored


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    born=st.dates(date(1920, 1, 1), date(2010, 12, 31)),
    n=st.sampled_from([5, 6]),  # a man, a woman
    relation=relations,
)
def test_a_move_into_a_household_is_accepted_exactly_when_the_importers_move_is(
    users, tree, born, n, relation
):
    """A registered person moved into QX-PROP (户主 born 1940-01-01) with a relation: by
    the move service (the page's and the API's) and by a ledger listing them there."""
    try:
        with transaction.atomic():
            grid = tree.grids["七星村1"]
            target = HouseholdFactory(grid=grid, number="QX-PROP")
            head_id = make_id_number("430302", date(1940, 1, 1), 1)
            ResidentFactory(household=target, relation=Relation.HEAD, id_number=head_id)
            old = HouseholdFactory(grid=grid, number="QX-OLD")
            ResidentFactory(
                household=old, relation=Relation.HEAD, name="王一", phone="13900000001",
                id_number=make_id_number("430302", date(1930, 1, 1), 2),
            )  # fmt: skip
            person = ResidentFactory(
                household=old, relation=Relation.OTHER, name="王五", phone="13900000005",
                id_number=make_id_number("430302", born, n),
            )  # fmt: skip
            service = _move_via_service(users.cadre, person, target, relation)
            importer = _move_via_import(users.cadre, person, relation)
            raise _Rollback((service, importer))
    except _Rollback as done:
        service, importer = done.stored
    assert service == importer, (born, n, relation, service, importer)


def test_a_move_the_ages_contradict_is_refused_and_writes_nothing(users, tree):
    """户间迁移 and 迁入 with a relation (given, or kept from before under a new 户主) are
    refused as the importer refuses them: the message names the years, nothing is written."""
    from minqing.core.errors import ValidationFailed
    from minqing.core.models import AuditEvent
    from minqing.registry.models import Move, TagPeriod
    from minqing.registry.services import resident_move, resident_update

    def written():
        return tuple(m.objects.count() for m in (Move, TagPeriod, AuditEvent))

    grid = tree.grids["七星村1"]
    target = HouseholdFactory(grid=grid, number="QX-NEW")
    ResidentFactory(
        household=target, relation=Relation.HEAD, id_number=make_id_number("430302", date(1960, 1, 1), 1)
    )  # fmt: skip
    old = HouseholdFactory(grid=grid, number="QX-OLD")
    elder = ResidentFactory(
        household=old, relation=Relation.OTHER, id_number=make_id_number("430302", date(1950, 3, 3), 3)
    )  # fmt: skip
    before, version = written(), elder.version
    with pytest.raises(ValidationFailed, match="不晚于户主") as caught:
        resident_move(
            actor=users.cadre, resident=elder, kind="transfer", date=date(2024, 6, 1),
            to_household=target, relation=Relation.CHILD,
        )  # fmt: skip
    assert "1950" in caught.value.message and "1960" in caught.value.message
    with pytest.raises(ValidationFailed, match="不晚于户主"):  # the importer's word too
        resident_move(
            actor=users.cadre, resident=elder, kind="transfer", date=date(2024, 6, 1),
            to_household=target, relation="孙子",
        )  # fmt: skip
    elder.refresh_from_db()
    assert elder.household == old and elder.relation == Relation.OTHER and elder.version == version
    assert written() == before
    # moved in as a parent is what the ages say: accepted
    resident_move(
        actor=users.cadre, resident=elder, kind="transfer", date=date(2024, 6, 1),
        to_household=target, relation=Relation.PARENT,
    )  # fmt: skip
    elder.refresh_from_db()
    assert elder.household == target and elder.relation == Relation.PARENT

    # 迁入 again: the relation kept from before is checked against today's 户主
    young = ResidentFactory(
        household=target, relation=Relation.CHILD, id_number=make_id_number("430302", date(1985, 1, 1), 7)
    )  # fmt: skip
    resident_move(actor=users.cadre, resident=young, kind="out", date=date(2024, 7, 1))
    head = Resident.objects.get(household=target, relation=Relation.HEAD)
    resident_update(
        actor=users.cadre, resident=head, relation=Relation.SPOUSE, version=head.version
    )
    older_head = ResidentFactory(
        household=target, relation=Relation.HEAD, id_number=make_id_number("430302", date(1990, 1, 1), 9)
    )  # fmt: skip
    assert older_head.household.head == older_head
    before = written()
    with pytest.raises(ValidationFailed, match="不晚于户主"):
        resident_move(actor=users.cadre, resident=young, kind="in", date=date(2024, 8, 1))
    young.refresh_from_db()
    assert young.status == "moved_out" and young.relation == Relation.CHILD
    assert written() == before
    resident_move(
        actor=users.cadre, resident=young, kind="in", date=date(2024, 8, 1),
        relation=Relation.SIBLING,
    )  # fmt: skip
    young.refresh_from_db()
    assert young.status == "living"


def test_a_corrected_id_number_must_still_fit_the_relation(users, tree):
    """Changing only the 身份证号 changes the birth date: a 子女 whose new number makes them
    older than the 户主 is refused as the importer would refuse that row."""
    from minqing.core.errors import ValidationFailed
    from minqing.registry.services import resident_update

    household = HouseholdFactory(grid=tree.grids["七星村1"], number="QX-IDC")
    ResidentFactory(
        household=household, relation=Relation.HEAD, id_number=make_id_number("430302", date(1960, 1, 1), 1)
    )  # fmt: skip
    child_id = make_id_number("430302", date(1988, 1, 1), 3)
    child = ResidentFactory(household=household, relation=Relation.CHILD, id_number=child_id)
    with pytest.raises(ValidationFailed, match="不晚于户主"):
        resident_update(
            actor=users.cadre, resident=child, version=child.version,
            id_number=make_id_number("430302", date(1958, 1, 1), 3),
        )  # fmt: skip
    child.refresh_from_db()
    assert child.id_number == child_id
    # with the relation corrected in the same edit it is accepted
    resident_update(
        actor=users.cadre, resident=child, version=child.version, relation=Relation.SIBLING,
        id_number=make_id_number("430302", date(1958, 1, 1), 3),
    )  # fmt: skip


def test_a_correction_does_not_restore_a_relation_the_new_head_contradicts(users, tree):
    """更正 of a 户间迁移 puts the person back with their old relation, unless the old
    household has since a 户主 that relation does not fit: then 其他, as when it has a new
    户主 and the person was the 户主."""
    from minqing.registry.services import resident_move, resident_move_correct, resident_update

    grid = tree.grids["七星村1"]
    home = HouseholdFactory(grid=grid, number="QX-HOME")
    head = ResidentFactory(
        household=home, relation=Relation.HEAD, id_number=make_id_number("430302", date(1960, 1, 1), 1)
    )  # fmt: skip
    son = ResidentFactory(
        household=home, relation=Relation.CHILD, id_number=make_id_number("430302", date(1985, 1, 1), 3)
    )  # fmt: skip
    other = HouseholdFactory(grid=grid, number="QX-OTHER")
    move = resident_move(
        actor=users.cadre, resident=son, kind="transfer", date=date(2024, 6, 1), to_household=other
    )
    resident_update(
        actor=users.cadre, resident=head, relation=Relation.SPOUSE, version=head.version
    )
    ResidentFactory(
        household=home, relation=Relation.HEAD, id_number=make_id_number("430302", date(1990, 1, 1), 5)
    )  # fmt: skip
    resident_move_correct(actor=users.cadre, move=move, reason="迁错了")
    son.refresh_from_db()
    assert son.household == home and son.relation == Relation.OTHER
