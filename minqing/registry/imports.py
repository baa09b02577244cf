"""Household and resident import (台账导入), from the ledgers cadres really keep: one row
per person, the 户编号 grouping the members of a household.

The header may sit under title rows on any sheet (core.tabular finds it); columns are
matched by the names ledgers use, and the user sees and may correct the mapping before
anything is written. Every value goes through the registry's field rules (rules.py: the
same as the forms and services). The ledger is checked against itself (性别 and 出生日期
against the 身份证号, 户主姓名 against the household's 户主 row, relations against gender
and age) and against the registry: a person already registered is compared field by
field, and the dry run shows who would be created, changed (old -> new, masked) or left
as is. All or nothing: one bad row and nothing is written.

Validation runs over one small dataclass per row with every lookup cached (grids, tags,
the search keys of each distinct name, birth dates) and the database asked in a few
batched queries; the write is COPY on PostgreSQL (the new people streamed from the kept
plan, their ids reserved in one step) and bulk_create elsewhere. Changes to
people already registered are bulk updates audited field by field; moves between
households, out or deaths go through resident_move, so they have their history.
"""

import logging
import os
import re
from dataclasses import dataclass
from datetime import date
from itertools import compress
from operator import attrgetter, itemgetter
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.areas.models import Area, Level
from minqing.core.audit import audit_bulk, audit_record
from minqing.core.errors import Conflict
from minqing.core.imports import PROGRESS_EVERY, Importer, RowErrors, register_importer
from minqing.core.masking import mask_id_number, mask_phone
from minqing.core.permissions import has_perm
from minqing.core.scoping import covers
from minqing.core.tabular import half_width, rows_text

from . import rules
from .models import Household, Move, Relation, Resident, ResidentStatus, Tag, TagPeriod
from .rules import (  # noqa: F401  (kept importable from here)
    RELATION_WORDS,
    STATUS_WORDS,
    RuleError,
    fast_check_digit,
)
from .search_keys import NameKeys, phone_tail, to_simplified
from .summaries import summaries_add

# Field -> accepted headers, the first one is what the template and error messages use.
COLUMNS = {
    "grid": ("网格代码", "网格编码", "网格编号"),
    "grid_name": ("网格", "所属网格", "网格名称"),
    "number": ("户编号", "户号", "户编码", "家庭编号", "户籍编号"),
    "address": ("住址", "现住址", "家庭住址", "地址", "居住地址"),
    "name": ("姓名", "名字"),
    "id_number": ("身份证号", "公民身份号码", "身份证号码", "身份证", "证件号码"),
    "gender": ("性别",),
    "birth_date": ("出生日期", "出生年月", "出生年月日"),
    "relation": ("与户主关系", "关系", "家庭关系"),
    "head_name": ("户主姓名", "户主"),
    "phone": ("手机号", "手机号码", "手机", "联系电话", "电话"),
    "status": ("状态", "人员状态", "居住状态"),
    "household_phone": ("户联系电话", "户电话", "家庭电话", "家庭联系电话"),
    "notes": ("备注", "户备注"),
    "tags": ("标签", "重点人群", "人员类别", "人群类别"),
}
IGNORED = ("序号", "编号", "年龄")
FIELDS = tuple(COLUMNS)
REQUIRED = (("grid", "grid_name"), "number", "name", "id_number", "relation")
TEMPLATE_FIELDS = (
    *("grid", "number", "address", "name", "id_number", "relation", "phone", "status"),
    *("household_phone", "notes", "tags"),
)
TEMPLATE_HEADERS = [COLUMNS[f][0] for f in TEMPLATE_FIELDS]
EXAMPLE_MARK = "示例"
TEMPLATE_EXAMPLE = [
    ["430372100201001", "430372100201001-0001", "七星村一组 12 号", "张德书(示例)"]
    + ["430302195503071233", "户主", "13807321234", "在住", "0731-52801234", "示例行"]
    + ["党员、低保"],
    ["430372100201001", "430372100201001-0001", "七星村一组 12 号", "李桂兰(示例)"]
    + ["430302195708121249", "配偶", "", "在住", "", "示例行", "残疾"],
]
REQUIRED_NAMES = [
    COLUMNS["grid"][0] + "/" + COLUMNS["grid_name"][0],
    *(COLUMNS[f][0] for f in ("number", "name", "id_number", "relation")),
]

_TAG_SPLIT = re.compile(r"[、,，;；/|\s]+")
MAX_NUMBER = Household._meta.get_field("number").max_length
MAX_ADDRESS = Household._meta.get_field("address").max_length
PLAN_SLICE = 50_000  # people per slice of a kept plan
log = logging.getLogger(__name__)


class _Household:
    """What the file says about one 户编号 (its rows are members)."""

    __slots__ = (
        *("number", "first_row", "grid_value", "grid_id", "grid_path", "address", "phone"),
        *("notes", "heads", "head_phone", "existing_id", "existing_has_head", "former_heads"),
        *("id", "head_id", "members", "head_names", "existing_heads", "rows", "changes"),
        *("living_heads", "new_members"),
    )

    def __init__(self, number: str, first_row: int, grid_value: str):
        self.number = number
        self.first_row = first_row
        self.grid_value = grid_value
        self.grid_id = None
        self.grid_path = ""
        self.address = ""
        self.phone = ""
        self.notes: list[str] = []
        self.heads: list[PersonRow] = []  # the living 户主 rows
        self.head_phone = ""
        self.existing_id = None
        self.existing_has_head = False
        self.existing_heads: list[tuple] = []  # (id_number, name, birth) of registered heads
        self.former_heads = 0
        self.id = None
        self.head_id = None
        self.members = 0
        self.head_names: dict[str, list[int]] = {}  # 户主姓名 cell -> rows saying it
        self.rows: list[PersonRow] = []
        self.changes: dict | None = None  # field -> (old, new), for registered households
        self.living_heads = 0  # len(heads), kept when the rows are not
        self.new_members = 0  # people of the file not registered yet


class Registered(NamedTuple):
    """What the registry holds of a person the file names (a tuple: one per person of a
    re-imported million, pickled into the kept plan)."""

    pk: int
    name: str
    phone: str
    relation: str
    status: str
    household_id: int
    number: str  # the household's 户编号


@dataclass(slots=True)
class PersonRow:
    """One person of the ledger after the field rules: what the importer works with."""

    row: int
    household: _Household
    name: str
    id_number: str
    birth: object
    gender: str
    phone: str
    relation: str
    relation_word: str
    status: str
    keys: tuple
    phone_tail: str
    tags: tuple | None
    existing: Registered | None = None  # what the registry holds, for people registered
    changes: dict | None = None  # field -> (old, new), for people already registered
    new_tags: tuple = ()


class ResidentImporter(Importer):
    kind = "registry"
    perm = "registry.import"
    label = gettext_lazy("导入户籍台账")
    template_headers = TEMPLATE_HEADERS
    columns = COLUMNS
    required = REQUIRED
    ignored = IGNORED

    def purge(self) -> None:
        purge_change_log()

    # The kept plan (core.imports keeps it on disk between dry run and commit): what the
    # commit needs first (households, people whose registered record changes, counts) as
    # one pickle, then every person in slices of PLAN_SLICE as columns of plain values.
    # A commit that finds the registry as the dry run saw it reads the slices one at a
    # time and streams the new people into COPY; one that must check again reads them all.
    _SLICE_FIELDS = ("row", "number", "name", "id_number", "phone", "relation")
    _SLICE_FIELDS += ("relation_word", "status", "phone_tail", "tags", "new")
    _UPDATE_FIELDS = tuple(f for f in PersonRow.__slots__ if f != "household")
    _HOUSEHOLD_FIELDS = tuple(f for f in _Household.__slots__ if f not in ("heads", "rows"))

    def pack(self, plan) -> dict:
        hhs = list(plan["households"].values())
        packed = {k: v for k, v in plan.items() if k not in ("residents", "households")}
        packed["household_columns"] = {
            f: list(map(attrgetter(f), hhs)) for f in self._HOUSEHOLD_FIELDS
        }
        packed["updates"] = [
            (p.household.number, *map(p.__getattribute__, self._UPDATE_FIELDS))
            for p in plan["updates"]
        ]
        packed["preview"] = self.preview(plan)
        return packed

    def pack_rows(self, plan):
        residents = plan["residents"]
        for start in range(0, len(residents), PLAN_SLICE):
            part = residents[start : start + PLAN_SLICE]
            columns = {
                f: list(map(attrgetter(f), part))
                for f in self._SLICE_FIELDS
                if f not in ("number", "new")
            }
            columns["number"] = [p.household.number for p in part]
            columns["new"] = [p.existing is None for p in part]
            yield columns

    def unpack(self, packed: dict, rows=None) -> dict:
        plan = {
            k: v for k, v in packed.items() if k not in ("household_columns", "updates", "preview")
        }
        columns = packed["household_columns"]
        households = {}
        for values in zip(*(columns[f] for f in self._HOUSEHOLD_FIELDS), strict=True):
            hh = _Household.__new__(_Household)
            for f, v in zip(self._HOUSEHOLD_FIELDS, values, strict=True):
                setattr(hh, f, v)
            hh.heads, hh.rows = [], []
            households[hh.number] = hh
        plan["households"] = households
        plan["updates"] = [
            PersonRow(values[1], households[values[0]], *values[2:]) for values in packed["updates"]
        ]
        plan["_preview"] = packed["preview"]
        plan["residents"] = None  # in the slices, read when needed
        plan["slices"] = rows
        return plan

    def _read_slices(self, plan) -> None:
        """Every person of the kept plan as a PersonRow again (the commit checks them
        against the registry once more)."""
        households = plan["households"]
        residents = []
        births: dict[str, object] = {}
        head, living = Relation.HEAD.value, ResidentStatus.LIVING.value
        for columns in plan["slices"]():
            for row, number, name, idn, phone, rel, rel_word, status, tail, tags in zip(
                *(columns[f] for f in self._SLICE_FIELDS[:-1]), strict=True
            ):
                birth = births.get(idn[6:14])
                if birth is None:
                    birth = births[idn[6:14]] = date(
                        int(idn[6:10]), int(idn[10:12]), int(idn[12:14])
                    )
                hh = households[number]
                gender = "M" if idn[16] in "13579" else "F"
                p = PersonRow(
                    row,
                    hh,
                    name,
                    idn,
                    birth,
                    gender,
                    phone,
                    rel,
                    rel_word,
                    status,
                    None,
                    tail,
                    tags,
                )
                if rel == head and status == living:
                    hh.heads.append(p)
                if len(hh.rows) < 200:
                    hh.rows.append(p)
                residents.append(p)
        plan["residents"] = residents

    def _new_people(self, plan):
        """The people to create, a slice at a time: (户编号, name, 身份证号, phone, relation,
        status, phone tail, tags)."""
        residents = plan["residents"]
        if residents is not None:
            yield [
                (p.household.number, p.name, p.id_number, p.phone, p.relation, p.status)
                + (p.phone_tail, p.tags)
                for p in residents
                if p.existing is None
            ]
            return
        fields = ("number", "name", "id_number", "phone", "relation", "status", "phone_tail")
        for columns in plan["slices"]():
            yield compress(
                zip(*(columns[f] for f in (*fields, "tags")), strict=True), columns["new"]
            )

    def release(self, plan) -> None:
        # people point to their household, households to their people
        for hh in plan["households"].values():
            hh.heads = hh.rows = None
        plan.clear()

    def lock_paths(self, plan) -> set[str]:
        """The grids of the file's households, and those of the registered households its
        people are in now (a move writes there too)."""
        return {hh.grid_path for hh in plan["households"].values()} | plan.get(
            "resident_paths", set()
        )

    # ---------------------------------------------------------------- validate

    def validate(self, *, actor, table, cmap, errors: RowErrors, progress):
        # Where the registry stands before anything of it is read (grids, tags, people).
        mark = registry_mark()
        index = cmap.index
        reveal = has_perm(actor, "registry.reveal_id")
        show_id = (lambda v: v) if reveal else mask_id_number
        col = {f: index.get(f) for f in FIELDS}
        # Only the mapped cells are kept, as one tuple per row in FIELDS order ('' where
        # the ledger has no such column): memory stays near the file's own size.
        width = max(index.values()) + 1
        take = itemgetter(*[index.get(f, width) for f in FIELDS])
        pad = [""] * (width + 1)
        raw_rows = []
        append = raw_rows.append
        needs_half_width = rules.NEEDS_HALF_WIDTH.search
        clean = rules.clean_text
        for number, cells in table.rows:
            # cut at the last mapped column: a column the user ignored never feeds a field
            fields = take(cells[:width] + pad)
            # The cells come stripped; full-width characters are looked for once a row
            # (the cells of the rows that have some go through clean_text each).
            if needs_half_width("".join(fields)):
                fields = tuple(map(clean, fields))
            append((number, *fields))
        total = len(raw_rows)
        progress(0, total)
        if not raw_rows:
            errors.add(table.header_row, _("文件中没有数据行"))
            return None

        grid_pos = 1 if col["grid"] is not None else 2
        grid_field = "grid" if col["grid"] is not None else "grid_name"
        grid_values = {rules.clean_text(r[grid_pos]) for r in raw_rows}
        grids = self._grids(actor, grid_values)
        tags = self._tags()
        id_rule = rules.IdRule()
        keys_of: dict[str, None] = {}  # names already found valid
        seen_ids: dict[str, int] = {}
        households: dict[str, _Household] = {}
        household_tags: set[tuple[str, int]] = set()
        out: list[PersonRow] = []
        add = errors.add
        head, living = Relation.HEAD.value, ResidentStatus.LIVING.value
        clean = rules.clean_text
        has_gender, has_birth = col["gender"] is not None, col["birth_date"] is not None
        has_head_name = col["head_name"] is not None
        relations, statuses = rules.RELATIONS, rules.STATUSES
        clean_relation, clean_status, clean_phone = (
            rules.clean_relation,
            rules.clean_status,
            rules.clean_phone,
        )
        for i, row in enumerate(raw_rows):
            if i % PROGRESS_EVERY == 0 and i:
                progress(i)
            raw_rows[i] = None  # keep memory flat
            (
                rowno,
                grid_code_v,
                grid_name_v,
                number,
                address,
                name,
                idn_v,
                gender_v,
                birth_v,
                rel_v,
                head_name_v,
                phone_v,
                status_v,
                hh_phone,
                notes,
                tv,
            ) = row
            if notes[:2] == EXAMPLE_MARK or "(示例)" in name:
                add(rowno, _("这是模板中的示例行,请删除后再上传"), "name")

            # 身份证号
            birth = gender = None
            try:
                idn, birth, gender = id_rule(idn_v)
            except RuleError as exc:
                idn = ""
                add(rowno, exc.message, "id_number")
            if idn:
                first = seen_ids.get(idn)
                if first is None:
                    seen_ids[idn] = rowno
                else:
                    add(
                        rowno,
                        _("身份证号 %(id)s 在文件中重复(第 %(first)d 行)")
                        % {"id": show_id(idn), "first": first},
                        "id_number",
                    )
                if has_gender:
                    typed = gender_v
                    try:
                        g = rules.clean_gender(typed)
                    except RuleError as exc:
                        add(rowno, exc.message, "gender")
                    else:
                        if g and g != gender:
                            add(rowno, rules.gender_digit_mismatch(idn, gender, typed), "gender")
                if has_birth:
                    typed = birth_v
                    try:
                        b = rules.clean_date(typed)
                    except RuleError as exc:
                        add(rowno, exc.message, "birth_date")
                    else:
                        month_only = b is not None and not re.search(
                            r"\d{4}\D+\d{1,2}\D+\d{1,2}|^\d{8}$", clean(str(typed))
                        )
                        if b is not None and (
                            (b.year, b.month) != (birth.year, birth.month)
                            or (not month_only and b != birth)
                        ):
                            add(
                                rowno,
                                _("出生日期栏为 %(typed)s,身份证号中为 %(id)s")
                                % {
                                    "typed": b.strftime("%Y-%m" if month_only else "%Y-%m-%d"),
                                    "id": birth.isoformat(),
                                },
                                "birth_date",
                            )

            # The search keys (pinyin...) are computed at write time, for the rows written.
            keys = None
            if name not in keys_of:
                try:
                    name = rules.clean_name(name)
                except RuleError as exc:
                    add(rowno, exc.message, "name")
                else:
                    keys_of[name] = None

            rel_word = rel_v.replace(" ", "")
            relation = relations.get(rel_word)  # the common words, without a call
            if relation is None:
                try:
                    relation = clean_relation(rel_word)
                except RuleError as exc:
                    add(rowno, exc.message, "relation")
            if gender and relation:
                wrong = (gender == "F" and rel_word in rules.MALE_WORDS) or (
                    gender == "M" and rel_word in rules.FEMALE_WORDS
                )
                if wrong:
                    add(rowno, rules.relation_gender_problem(rel_word, gender), "relation")
            status_value = statuses.get(status_v)  # 在住 / blank, without a call
            if status_value is None:
                try:
                    status_value = clean_status(status_v)
                except RuleError as exc:
                    add(rowno, exc.message, "status")
            try:
                phone = clean_phone(phone_v)
            except RuleError as exc:
                phone = ""
                add(rowno, exc.message, "phone")
            tail = phone_tail(phone) if phone else ""

            tag_ids = None
            number = number.replace(" ", "")
            if tv:
                tag_ids = []
                for word in _TAG_SPLIT.split(tv):
                    if not word:
                        continue
                    tag = tags.get(word) or tags.get(to_simplified(word))
                    if tag is None:
                        add(
                            rowno,
                            _("未知的标签:%(t)s(最接近的:%(near)s)")
                            % {"t": word[:20], "near": rules.closest(word, self._tag_names)},
                            "tags",
                        )
                    elif tag[1]:  # a household tag: once per household, no resident
                        household_tags.add((number, tag[0]))
                    elif tag[0] not in tag_ids:
                        tag_ids.append(tag[0])
                tag_ids = tuple(tag_ids) or None

            if not number:
                add(rowno, _("户编号为空"), "number")
            elif len(number) > MAX_NUMBER:
                add(rowno, _("户编号超过 %(n)d 个字符") % {"n": MAX_NUMBER}, "number")
            grid_v = grid_code_v if grid_pos == 1 else grid_name_v
            grid = grids.get(grid_v)
            if grid is None:
                add(rowno, _("网格为空"), grid_field)
            elif grid[2]:
                add(rowno, grid[2], grid_field)
            hh = households.get(number)
            if hh is None:
                hh = households[number] = _Household(number, rowno, grid_v)
                if grid is not None and not grid[2]:
                    hh.grid_id, hh.grid_path = grid[0], grid[1]
            elif grid_v != hh.grid_value and not (grid and grid[0] and grid[0] == hh.grid_id):
                add(
                    rowno,
                    _("户编号 %(n)s 的成员不在同一网格:第 %(first)d 行是 %(g1)s,本行是 %(g2)s")
                    % {"n": number, "first": hh.first_row, "g1": hh.grid_value, "g2": grid_v},
                    grid_field,
                )
            hh.members += 1
            if address and not hh.address:
                if len(address) > MAX_ADDRESS:
                    add(rowno, _("住址超过 %(n)d 个字") % {"n": MAX_ADDRESS}, "address")
                hh.address = address[:MAX_ADDRESS]
            if hh_phone and not hh.phone:
                try:
                    hh.phone = rules.clean_phone(hh_phone)
                except RuleError as exc:
                    add(rowno, exc.message, "household_phone")
            if notes and notes not in hh.notes and len(hh.notes) < 20:
                hh.notes.append(notes)
            if has_head_name:
                hn = head_name_v.replace(" ", "")
                if hn:
                    rows_of = hh.head_names.setdefault(hn, [])
                    if len(rows_of) < 20:
                        rows_of.append(rowno)
            person = PersonRow(
                rowno,
                hh,
                name,
                idn,
                birth,
                gender,
                phone,
                relation,
                rel_word,
                status_value,
                keys,
                tail,
                tag_ids,
            )
            if relation == head:
                if status_value == living:
                    hh.heads.append(person)
                    hh.head_phone = phone
                else:
                    hh.former_heads += 1
            if len(hh.rows) < 200:
                hh.rows.append(person)
            out.append(person)
        progress(total)
        plan = {
            "residents": out,
            "households": households,
            "wanted_household_tags": household_tags,
            "seen_ids": seen_ids,
        }
        plan = self.resolve(actor=actor, plan=plan, errors=errors)
        plan["mark"] = mark
        return plan

    def resolve(self, *, actor, plan, errors: RowErrors):
        """What the file means against the registry as it is now: people and households
        already registered, their heads and tags, the changes. Run by the dry run, and run
        again at commit time on the parsed rows the dry run kept (the registry may have
        moved on in between; the rows themselves have not)."""
        mark = plan.get("mark")
        if mark is not None and not registry_changed_since(mark):
            # Nothing the plan was checked against has been written since the dry run
            # (PostgreSQL's change log): its findings hold as they are.
            plan["rechecked"] = False
            return plan
        plan["mark"] = registry_mark()
        plan["rechecked"] = True
        if plan["residents"] is None:
            self._read_slices(plan)
        show_id = (lambda v: v) if has_perm(actor, "registry.reveal_id") else mask_id_number
        out, households = plan["residents"], plan["households"]
        for hh in households.values():
            hh.existing_id, hh.existing_has_head, hh.existing_heads = None, False, []
            hh.changes = None
        # Grids may have left the actor's jurisdiction since the dry run.
        for hh in households.values():
            if hh.grid_path and not covers(actor, hh.grid_path):
                errors.add(hh.first_row, _("网格不在您的管辖范围内"), "grid")
        paths: set[str] = set()
        existing = self._existing_residents(actor, plan["seen_ids"], errors, show_id, paths)
        plan["resident_paths"] = paths
        self._check_households(actor, households, existing, errors, show_id)
        open_tags = self._open_tags(existing)
        for p in out:
            found = existing.get(p.id_number)
            p.existing, p.changes, p.new_tags = found, None, ()
            if found is not None:
                self._diff(p, found, open_tags.get(found.pk, ()))
        wanted = plan["wanted_household_tags"]
        existing_tags = self._existing_household_tags(households, wanted)
        plan["household_tags"] = sorted(wanted - existing_tags)
        self._settle(plan)
        return plan

    @staticmethod
    def _settle(plan) -> None:
        """Who is created, changed or left as is (what apply and the kept plan need)."""
        for hh in plan["households"].values():
            hh.new_members = 0
            hh.living_heads = len(hh.heads)
        updates, unchanged, created = [], 0, 0
        for p in plan["residents"]:
            if p.existing is None:
                p.household.new_members += 1
                created += 1
            elif p.changes:
                updates.append(p)
            else:
                unchanged += 1
        plan["updates"], plan["unchanged"], plan["created"] = updates, unchanged, created
        plan.pop("_preview", None)

    @staticmethod
    def _diff(p: PersonRow, found: Registered, open_tags) -> None:
        _pk, name, phone, relation, status, _household_id, number = found
        p.changes = {}
        if p.name and p.name != name:
            p.changes["name"] = (name, p.name)
        if p.phone and p.phone != phone:
            p.changes["phone"] = (phone, p.phone)
        if p.household.number != number:
            p.changes["household"] = (number, p.household.number)
        if p.relation and p.relation != relation:
            p.changes["relation"] = (relation, p.relation)
        if p.status and p.status != status:
            p.changes["status"] = (status, p.status)
        if p.tags:
            new = tuple(t for t in p.tags if t not in open_tags)
            if new:
                p.new_tags = new
                p.changes["tags"] = ("", new)

    # ---------------------------------------------------------------- lookups

    def _grids(self, actor, values: set[str]) -> dict[str, tuple]:
        """Grid cell -> (grid id, path, problem or ''): by code; by full name
        (昭山镇七星村第1网格); or by a name unique within the importer's jurisdiction
        (七星村第1网格, 第1网格), with 一/1 and full/half-width numerals equal."""
        values.discard("")
        codes = [v for v in values if half_width(v).replace(" ", "").isdigit()]
        code_set = set(codes)
        names = [v for v in values if v not in code_set]
        result: dict[str, tuple] = {}
        if codes:
            found = {}
            wanted = [half_width(c).replace(" ", "") for c in codes]
            for chunk in _chunks(wanted, 5000):
                for pk, code, level, path in Area.objects.filter(code__in=chunk).values_list(
                    "pk", "code", "level", "path"
                ):
                    found[code] = (pk, level, path)
            for value in codes:
                code = half_width(value).replace(" ", "")
                area = found.get(code)
                if area is None:
                    result[value] = (None, "", _("网格代码 %(c)s 不存在") % {"c": code})
                elif area[1] != Level.GRID:
                    result[value] = (None, "", _("%(c)s 不是网格代码") % {"c": code})
                elif not covers(actor, area[2]):
                    result[value] = (None, "", _("网格 %(c)s 不在您的管辖范围内") % {"c": code})
                else:
                    result[value] = (area[0], area[2], "")
        if names:
            by_key, full_names = self._grid_names(actor)
            for value in names:
                hits = by_key.get(grid_key(value), set())
                if len(hits) == 1:
                    pk = next(iter(hits))
                    result[value] = (pk, full_names[pk][1], "")
                elif hits:
                    candidates = "、".join(sorted(full_names[h][0] for h in hits)[:5])
                    result[value] = (
                        None,
                        "",
                        _("网格 %(n)s 不唯一,可能是:%(c)s;请填写网格代码或完整名称")
                        % {"n": value[:30], "c": candidates},
                    )
                else:
                    near = rules.closest(grid_key(value), list(by_key), n=3)
                    result[value] = (
                        None,
                        "",
                        _("网格 %(n)s 不存在或不在您的管辖范围内(最接近的:%(near)s)")
                        % {"n": value[:30], "near": near or "—"},
                    )
        return result

    @staticmethod
    def _grid_names(actor):
        grids = list(
            Area.objects.visible_to(actor)
            .filter(level=Level.GRID)
            .values_list("pk", "name", "path", "parent__name", "parent__parent__name")
        )
        by_key: dict[str, set] = {}
        full: dict[int, tuple[str, str]] = {}
        for pk, name, path, village, township in grids:
            village, township = village or "", township or ""
            short = name[len(village) :] if village and name.startswith(village) else name
            with_village = name if name.startswith(village) else village + name
            full_name = township + with_village
            full[pk] = (full_name, path)
            for variant in {name, short, with_village, full_name}:
                by_key.setdefault(grid_key(variant), set()).add(pk)
        return by_key, full

    _tag_names: list[str] = []

    def _tags(self) -> dict[str, tuple[int, bool]]:
        """Tag name, code or listed synonym -> (id, is a household tag)."""
        tags = {}
        names = []
        for pk, code, name, scope in Tag.objects.values_list("pk", "code", "name", "scope"):
            value = (pk, scope == Tag.Scope.HOUSEHOLD)
            tags[name] = tags[code] = tags[to_simplified(name)] = value
            names.append(name)
            for synonym in TAG_SYNONYMS.get(name, ()):
                tags.setdefault(synonym, value)
        self._tag_names = names
        return tags

    def _existing_residents(self, actor, seen_ids: dict[str, int], errors, show_id, paths) -> dict:
        """身份证号 -> what the registry holds for people already registered in the actor's
        jurisdiction; one registered elsewhere is an error (never shown where)."""
        found = _registered(list(seen_ids))
        result = {}
        foreign = []
        for idn, row in found.items():
            pk, name, phone, relation, status, household_id, number, path = row
            if not covers(actor, path):
                foreign.append(idn)
                continue
            result[idn] = Registered(pk, name, phone, relation, status, household_id, number)
            paths.add(path)
        report_foreign_ids(actor=actor, ids=foreign, rows=seen_ids, errors=errors, show=show_id)
        return result

    @staticmethod
    def _open_tags(existing: dict[str, Registered]) -> dict[int, set]:
        pks = [v.pk for v in existing.values()]
        out: dict[int, set] = {}
        if pks and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT resident_id, tag_id FROM registry_tagperiod "
                    "WHERE end_date IS NULL AND resident_id = ANY(%s)",
                    [pks],
                )
                for rid, tid in cursor.fetchall():
                    out.setdefault(rid, set()).add(tid)
            return out
        if len(pks) >= BULK_LOOKUP_MIN:
            # Most of the registry: one pass over the open personal tags beats batches.
            wanted = set(pks)
            for rid, tid in (
                TagPeriod.objects.filter(resident__isnull=False, end_date__isnull=True)
                .values_list("resident_id", "tag_id")
                .iterator(chunk_size=20000)
            ):
                if rid in wanted:
                    out.setdefault(rid, set()).add(tid)
            return out
        for chunk in _chunks(pks, 5000):
            for rid, tid in TagPeriod.objects.filter(
                resident_id__in=chunk, end_date__isnull=True
            ).values_list("resident_id", "tag_id"):
                out.setdefault(rid, set()).add(tid)
        return out

    def _check_households(self, actor, households, existing, errors, show_id) -> None:
        """One living head per household (counting the registered one the file leaves in
        place), a head and an address for new ones, 户主姓名 and ages against the head,
        existing households in reach and in place."""
        registered = _existing_households(list(households))
        heads = _registered_heads([v[0] for v in registered.values()])
        file_ids = existing.keys()
        for number, hh in households.items():
            if not number:
                continue
            found = registered.get(number)
            reg_heads = []
            if found is not None:
                pk, grid_id, has_head, grid_path, address, phone = found
                if not covers(actor, grid_path):
                    errors.add(
                        hh.first_row,
                        _("户编号 %(n)s 已登记在您管辖范围以外的网格,不能在此导入") % {"n": number},
                        "number",
                    )
                    continue
                if hh.grid_id is not None and grid_id != hh.grid_id:
                    errors.add(
                        hh.first_row,
                        _("户编号 %(n)s 已登记在另一网格,与本行网格不一致") % {"n": number},
                        "grid",
                    )
                hh.existing_id, hh.grid_id, hh.grid_path = pk, grid_id, grid_path
                # What the file says of the household itself (a blank cell leaves it).
                hh.changes = {}
                if hh.address and hh.address != address:
                    hh.changes["address"] = (address, hh.address)
                if hh.phone and hh.phone != phone:
                    hh.changes["household_phone"] = (phone, hh.phone)
                # A registered head stays head unless the file says otherwise about them.
                reg_heads = [h for h in heads.get(pk, ()) if h[0] not in file_ids]
                hh.existing_heads = heads.get(pk, [])
                hh.existing_has_head = bool(reg_heads)
            all_heads = [(p.row, p.name, p.birth) for p in hh.heads] + [
                (None, h[1], h[2]) for h in reg_heads
            ]
            if len(all_heads) > 1:
                rows = [p.row for p in hh.heads]
                message = _("户 %(n)s 有多个户主(%(rows)s)") % {
                    "n": number,
                    "rows": rows_text(rows) if rows else "—",
                }
                if reg_heads:
                    message += _(";已登记的户主为 %(name)s") % {"name": reg_heads[0][1]}
                for r in rows[1:] if not reg_heads else rows:
                    errors.add(r, message, "relation")
            if found is None:
                if not hh.heads and not hh.former_heads:
                    errors.add(
                        hh.first_row,
                        _("新户 %(n)s 没有户主:应有一人的与户主关系为“户主”") % {"n": number},
                        "relation",
                    )
                if not hh.address:
                    errors.add(hh.first_row, _("新户 %(n)s 没有住址") % {"n": number}, "address")
            head = all_heads[0] if len(all_heads) == 1 else None
            if head is not None:
                for typed, rows in hh.head_names.items():
                    if typed != head[1]:
                        errors.add(
                            rows[0],
                            _("户主姓名栏为“%(typed)s”,但户 %(n)s 的户主是“%(head)s”(%(rows)s)")
                            % {
                                "typed": typed,
                                "n": number,
                                "head": head[1],
                                "rows": rows_text(rows),
                            },
                            "head_name",
                        )
                if head[2] is not None:
                    self._check_ages(hh, head, errors)

    @staticmethod
    def _check_ages(hh: _Household, head, errors) -> None:
        """A child cannot be older than the 户主 they are the child of; a parent or
        grandparent cannot be younger (rules.relation_age_problem, the services' rule)."""
        born = head[2]
        for p in hh.rows:
            if p.birth is None or p.relation is None or p.row == head[0]:
                continue
            problem = rules.relation_age_problem(p.relation, p.relation_word, p.birth, born)
            if problem:
                errors.add(p.row, problem, "relation")

    @staticmethod
    def _existing_household_tags(households, wanted: set[tuple[str, int]]) -> set:
        """Household tags already open on existing households are not given again."""
        by_id = {hh.existing_id: n for n, hh in households.items() if hh.existing_id}
        if not wanted or not by_id:
            return set()
        found = set()
        for chunk in _chunks(list(by_id), 5000):
            open_tags = TagPeriod.objects.filter(
                household_id__in=chunk, resident__isnull=True, end_date__isnull=True
            ).values_list("household_id", "tag_id")
            found |= {(by_id[h], t) for h, t in open_tags}
        return found

    # ---------------------------------------------------------------- preview

    def preview(self, plan) -> dict:
        if plan.get("_preview") is None:
            plan["_preview"] = self._preview(plan)
        return plan["_preview"]

    def _preview(self, plan) -> dict:
        households = plan["households"]
        changed, unchanged = plan["updates"], plan["unchanged"]
        moves = sum(1 for p in changed if "household" in p.changes or "status" in p.changes)
        tag_names = dict(Tag.objects.values_list("pk", "name")) if changed else {}
        hh_changed = [hh for hh in households.values() if hh.existing_id and hh.changes]
        sample = [
            {
                "row": hh.first_row,
                "name": _("户 %(n)s") % {"n": hh.number},
                "id": "",
                "changes": [
                    [str(_change_label(f)), *self._show(f, old, new, tag_names)]
                    for f, (old, new) in hh.changes.items()
                ],
            }
            for hh in hh_changed[:100]
        ]
        for p in changed[: 200 - len(sample)]:
            sample.append(
                {
                    "row": p.row,
                    "name": p.name,
                    "id": mask_id_number(p.id_number),
                    "changes": [
                        [str(label), *self._show(f, old, new, tag_names)]
                        for f, (old, new) in p.changes.items()
                        for label in [_change_label(f)]
                    ],
                }
            )
        return {
            "households_created": sum(1 for hh in households.values() if hh.existing_id is None),
            "residents_created": plan["created"],
            "unchanged": unchanged,
            "changed": len(changed) + len(hh_changed),
            "households_changed": len(hh_changed),
            "moves": moves,
            "household_tags": len(plan["household_tags"]),
            "changes": sample,
        }

    @staticmethod
    def _show(f, old, new, tag_names):
        if f in ("phone", "household_phone"):
            return [mask_phone(old), mask_phone(new)]
        if f == "relation":
            return [str(Relation(old).label) if old else "", str(Relation(new).label)]
        if f == "status":
            return [str(ResidentStatus(old).label), str(ResidentStatus(new).label)]
        if f == "tags":
            return ["", "+" + "、".join(tag_names.get(t, "") for t in new)]
        return [old, new]

    # ---------------------------------------------------------------- apply

    def apply(self, *, actor, plan, job, strategy: str = "create_update") -> dict:
        households: dict[str, _Household] = plan["households"]
        updates, unchanged, created = plan["updates"], plan["unchanged"], plan["created"]
        hh_updates = [hh for hh in households.values() if hh.existing_id and hh.changes]
        if strategy == "create_only":
            skipped, updates = len(updates) + len(hh_updates), []
            hh_updates = []
        else:
            skipped = 0
        # Households only people being moved would go to are still created.
        moved_to = {p.household.number for p in updates if "household" in p.changes}
        new = [
            hh
            for n, hh in households.items()
            if hh.existing_id is None and n and (hh.new_members or n in moved_to)
        ]
        if not created and not updates and not new and not hh_updates:
            return {
                "imported": 0,
                "residents": 0,
                "unchanged": unchanged,
                "skipped": skipped,
                "message": _("%(n)d 人无变化,未写入任何数据") % {"n": unchanged},
            }
        for hh in households.values():
            if hh.existing_id is not None:
                hh.id = hh.existing_id
        for hh, pk in zip(new, _allocate_ids(Household, len(new)), strict=True):
            hh.id = pk
        resident_ids = _allocate_ids(Resident, created)
        head, living = Relation.HEAD.value, ResidentStatus.LIVING.value
        for p in updates:
            hh = p.household
            if hh.existing_id is None and p.relation == head and p.status == living:
                hh.head_id = p.existing.pk
        _fill_keys(p for p in updates if "name" in p.changes)
        now = timezone.now()
        reason = (_("台账导入:%(f)s") % {"f": job.params.get("filename", "")})[:200]
        counts = _Counts()
        for hh in new:
            counts.grid(hh.grid_id)[0] += 1
        people = _Created(self._new_people(plan), resident_ids, households, counts)
        try:
            if connection.vendor == "postgresql":
                self._write_copy(actor, plan, new, people, now, reason)
            else:
                self._write_orm(actor, plan, new, people, now, reason)
        except IntegrityError:
            raise Conflict(
                _("导入时有人登记了相同的身份证号或户编号,未导入任何数据,请重新导入")
            ) from None
        adopted = [
            (hh.id, hh.head_id)
            for hh in households.values()
            if hh.existing_id is not None and not hh.existing_has_head and hh.head_id
        ]
        Household.objects.bulk_update(
            [Household(pk=pk, head_id=head_id, updated_at=now) for pk, head_id in adopted],
            ["head_id", "updated_at"],
            batch_size=2000,
        )
        # The COPY bypasses the models: add what it created to the kept summaries, before
        # the moves (resident_move recounts the grids it touches, on top of this)...
        for number, tag_id in plan["household_tags"]:
            counts.tagged(households[number].grid_id, tag_id)
        summaries_add(counts.grids, counts.tags)
        moved = self._update(actor, updates, job, reason) if updates else 0
        if hh_updates:
            self._update_households(actor, hh_updates, job)
        # ...and the tags given to registered people after them.
        after = _Counts()
        for p in updates:
            for tag_id in p.new_tags:
                after.tagged(p.household.grid_id, tag_id)
        if after.tags:
            summaries_add(after.grids, after.tags)
        tag_count = len(plan["household_tags"]) + people.tag_count
        extended = sum(
            1 for hh in households.values() if hh.existing_id is not None and hh.new_members
        )
        summary = {
            "imported": created + len(updates),
            "residents": created,
            "households_created": len(new),
            "households_extended": extended,
            "updated": len(updates),
            "households_updated": len(hh_updates),
            "moved": moved,
            "unchanged": unchanged,
            "skipped": skipped,
            "tag_periods": tag_count,
        }
        audit_record(
            actor=actor,
            action="registry.import",
            area=_common_area(hh.grid_path for hh in households.values()),
            detail={"job": str(job.pk), "file": job.params.get("filename", ""), **summary},
        )
        summary["message"] = _("导入成功:新增 %(c)d 人,更新 %(u)d 人,%(n)d 人无变化") % {
            "c": created,
            "u": len(updates),
            "n": unchanged,
        }
        return summary

    @staticmethod
    def _update_households(actor, changed: list[_Household], job) -> None:
        """Registered households whose address or phone the ledger changes: locked, updated
        in bulk (their version moves on, as an edit on the page does) and audited field by
        field in the page's form, so an editor holding the old version is told who
        changed what."""
        by_pk = {
            h.pk: h
            for chunk in _chunks(sorted(hh.existing_id for hh in changed), 2000)
            for h in Household.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
        }
        stamp = timezone.now()
        rows, audits = [], []
        for hh in changed:
            h = by_pk[hh.existing_id]
            detail = {"job": str(job.pk)}
            if "address" in hh.changes:
                detail["address"] = [h.address, hh.changes["address"][1]]
                h.address = hh.changes["address"][1]
            if "household_phone" in hh.changes:
                new = hh.changes["household_phone"][1]
                detail["phone"] = [mask_phone(h.phone), mask_phone(new)]
                h.phone = new
            h.updated_at = stamp
            h.version += 1
            detail["version"] = h.version
            rows.append(h)
            audits.append((h, detail, h.grid_id))
        Household.objects.bulk_update(rows, ["address", "phone", "updated_at", "version"], 2000)
        audit_bulk(actor=actor, action="registry.household.update", rows=audits)

    def _update(self, actor, updates: list[PersonRow], job, reason: str) -> int:
        """People already registered: fields in bulk, audited field by field; moves,
        moves out and deaths through resident_move so each has its history."""
        from .services import resident_move

        by_pk = {
            r.pk: r
            for chunk in _chunks([p.existing.pk for p in updates], 2000)
            for r in Resident.objects.filter(pk__in=chunk).select_related("household")
        }
        fields_changed = []
        audits = []
        moves = []
        stamp = timezone.now()
        for p in updates:
            r = by_pk[p.existing.pk]
            detail = {"job": str(job.pk), "changes": {}}
            for f, (old, new) in p.changes.items():
                if f == "name":
                    r.name = new
                    r.name_norm, r.name_pinyin, r.name_initials = p.keys
                    detail["changes"]["name"] = [old, new]
                elif f == "phone":
                    r.phone, r.phone_tail = new, p.phone_tail
                    detail["changes"]["phone"] = [mask_phone(old), mask_phone(new)]
                elif f == "relation" and "household" not in p.changes:
                    r.relation = new
                    detail["changes"]["relation"] = [old, new]
            if any(f in p.changes for f in ("name", "phone")) or (
                "relation" in p.changes and "household" not in p.changes
            ):
                r.updated_at = stamp
                r.audit_area_id = r.household.grid_id
                fields_changed.append(r)
                audits.append((r, detail))
            if "household" in p.changes or "status" in p.changes:
                moves.append((p, r))
        Resident.objects.bulk_update(
            fields_changed,
            ["name", "name_norm", "name_pinyin", "name_initials", "phone", "phone_tail"]
            + ["relation", "updated_at"],
            batch_size=2000,
        )
        audit_bulk(actor=actor, action="registry.resident.update", rows=audits)
        today = timezone.localdate()
        targets = {}
        for p, r in moves:
            status = p.status or r.status
            if status == ResidentStatus.LIVING and "household" in p.changes:
                if r.status != ResidentStatus.LIVING:
                    kind = Move.Kind.MOVE_IN
                else:
                    kind = Move.Kind.TRANSFER
                hid = p.household.id
                if hid not in targets:
                    targets[hid] = Household.objects.get(pk=hid)
                resident_move(
                    actor=actor,
                    resident=r,
                    kind=kind,
                    date=today,
                    reason=reason,
                    to_household=targets[hid],
                    relation=p.relation,
                )
            elif status == ResidentStatus.LIVING and r.status == ResidentStatus.MOVED_OUT:
                resident_move(
                    actor=actor, resident=r, kind=Move.Kind.MOVE_IN, date=today, reason=reason
                )
            elif status == ResidentStatus.MOVED_OUT and r.status == ResidentStatus.LIVING:
                resident_move(
                    actor=actor, resident=r, kind=Move.Kind.MOVE_OUT, date=today, reason=reason
                )
            elif status == ResidentStatus.DECEASED and r.status != ResidentStatus.DECEASED:
                resident_move(
                    actor=actor, resident=r, kind=Move.Kind.DEATH, date=today, reason=reason
                )
        # Personal tags the ledger adds to people already registered.
        periods = [
            TagPeriod(
                tag_id=t,
                household_id=p.household.id or p.existing.household_id,
                resident_id=p.existing.pk,
                start_date=today,
                start_reason=reason,
                started_by=actor,
            )
            for p in updates
            for t in p.new_tags
        ]
        TagPeriod.objects.bulk_create(periods, batch_size=2000)
        return len(moves)

    def _write_copy(self, actor, plan, new, people: "_Created", now, reason) -> None:
        """The new people first (streamed from the plan; each new household learns its
        head's id on the way), then the households, then the tag periods: the foreign
        keys are deferred and checked at the end."""
        households = plan["households"]
        stamp = now.isoformat()
        _copy(
            Resident,
            ("id", "household", "name", "id_number", "gender", "birth_date", "phone"),
            people.lines(f"\t{stamp}\t{stamp}\n"),
            extra=(
                *("relation", "status", "name_norm", "name_pinyin", "name_initials"),
                *("id_tail", "phone_tail", "created_at", "updated_at"),
            ),
        )
        _copy(
            Household,
            ("id", "grid", "number", "address", "head", "phone", "notes"),
            (
                f"{hh.id}\t{hh.grid_id}\t{_esc(hh.number)}\t{_esc(hh.address)}\t"
                f"{hh.head_id or NULL}\t{_esc(hh.phone or hh.head_phone)}\t"
                f"{_esc('；'.join(hh.notes))}\t{stamp}\t{stamp}\n"
                for hh in new
            ),
            extra=("created_at", "updated_at"),
        )
        today = timezone.localdate().isoformat()
        actor_id = actor.pk if actor.pk else NULL
        head = f"\t{today}\t{_esc(reason)}\t{actor_id}\t{NULL}\t\t{NULL}\t{stamp}\n"
        _copy(
            TagPeriod,
            ("tag", "household", "resident", "start_date", "start_reason", "started_by"),
            _chain(
                (
                    f"{tag_id}\t{households[number].id}\t{NULL}{head}"
                    for number, tag_id in plan["household_tags"]
                ),
                (f"{tag_id}\t{hid}\t{pk}{head}" for tag_id, hid, pk in people.tags),
            ),
            extra=("end_date", "end_reason", "ended_by", "created_at"),
        )
        with connection.cursor() as cursor:
            # Deferred foreign keys are checked here, inside the import, not at commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def _write_orm(self, actor, plan, new, people: "_Created", now, reason) -> None:
        households = plan["households"]
        rows = list(people.rows())  # heads known before the households are written
        Household.objects.bulk_create(
            (
                Household(
                    id=hh.id,
                    grid_id=hh.grid_id,
                    number=hh.number,
                    address=hh.address,
                    head_id=hh.head_id,
                    phone=hh.phone or hh.head_phone,
                    notes="；".join(hh.notes),
                )
                for hh in new
            ),
            batch_size=2000,
        )
        Resident.objects.bulk_create(
            (
                Resident(
                    id=pk,
                    household_id=hid,
                    name=name,
                    id_number=idn,
                    gender="M" if idn[16] in "13579" else "F",
                    birth_date=date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14])),
                    phone=phone,
                    relation=relation,
                    status=status,
                    name_norm=keys[0],
                    name_pinyin=keys[1],
                    name_initials=keys[2],
                    id_tail=idn[-6:],
                    phone_tail=tail,
                )
                for pk, hid, name, idn, phone, relation, status, tail, keys in rows
            ),
            batch_size=2000,
        )
        today = timezone.localdate()
        common = {"start_date": today, "start_reason": reason, "started_by": actor}
        TagPeriod.objects.bulk_create(
            _chain(
                (
                    TagPeriod(tag_id=tag_id, household_id=households[number].id, **common)
                    for number, tag_id in plan["household_tags"]
                ),
                (
                    TagPeriod(tag_id=tag_id, household_id=hid, resident_id=pk, **common)
                    for tag_id, hid, pk in people.tags
                ),
            ),
            batch_size=2000,
        )


class _Counts:
    """What an import adds to the kept grid summaries: per grid [households, living
    people, people, tag periods], per (grid, tag) tag periods."""

    def __init__(self):
        self.grids: dict[int, list[int]] = {}
        self.tags: dict[tuple[int, int], int] = {}

    def grid(self, grid_id) -> list[int]:
        counts = self.grids.get(grid_id)
        if counts is None:
            counts = self.grids[grid_id] = [0, 0, 0, 0]
        return counts

    def tagged(self, grid_id, tag_id) -> None:
        self.grid(grid_id)[3] += 1
        self.tags[grid_id, tag_id] = self.tags.get((grid_id, tag_id), 0) + 1


class _Created:
    """The people an import creates, read once from the plan's slices: their ids (in
    order), the head of each household, the search keys (once per name), the counts for
    the summaries and their tag periods are worked out on the way."""

    def __init__(self, slices, ids, households, counts: _Counts):
        self.slices, self.ids, self.households, self.counts = slices, ids, households, counts
        self.tags: list[tuple[int, int, int]] = []  # (tag, household id, resident id)
        self.tag_count = 0

    def rows(self):
        """(id, household id, name, 身份证号, phone, relation, status, phone tail, keys)."""
        households, counts, tags = self.households, self.counts, self.tags
        head, living = Relation.HEAD.value, ResidentStatus.LIVING.value
        keys_of = NameKeys()
        cache: dict[str, tuple[str, str, str]] = {}
        grids = counts.grids
        ids = iter(self.ids)
        hh = None
        for part in self.slices:
            for number, name, idn, phone, relation, status, tail, tag_ids in part:
                pk = next(ids)
                if hh is None or hh.number != number:
                    hh = households[number]
                    grid = grids.get(hh.grid_id) or counts.grid(hh.grid_id)
                if relation == head and (
                    status == living or (not hh.living_heads and hh.head_id is None)
                ):
                    # the living 户主 heads it; failing one, the first former 户主 does
                    hh.head_id = pk
                keys = cache.get(name)
                if keys is None:
                    norm, pinyin, initials = keys_of(name)
                    keys = cache[name] = (norm[: rules.MAX_NAME], pinyin[:200], initials[:50])
                grid[2] += 1
                if status == living:
                    grid[1] += 1
                if tag_ids:
                    for tag_id in tag_ids:
                        tags.append((tag_id, hh.id, pk))
                        counts.tagged(hh.grid_id, tag_id)
                    self.tag_count += len(tag_ids)
                yield pk, hh.id, name, idn, phone, relation, status, tail, keys

    def lines(self, end: str):
        """The rows as COPY text (the text of each name and its keys escaped once)."""
        escaped: dict[str, tuple[str, str]] = {}
        for pk, hid, name, idn, phone, relation, status, tail, keys in self.rows():
            esc = escaped.get(name)
            if esc is None:
                esc = escaped[name] = (_esc(name), _esc(keys[0]))
            gender = "M" if idn[16] in "13579" else "F"
            yield (
                f"{pk}\t{hid}\t{esc[0]}\t{idn}\t{gender}\t{idn[6:10]}-{idn[10:12]}-{idn[12:14]}"
                f"\t{phone}\t{relation}\t{status}\t{esc[1]}\t{keys[1]}\t{keys[2]}\t{idn[-6:]}"
                f"\t{tail}{end}"
            )


NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _esc(value: str) -> str:
    """A text value for COPY's text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _chain(*iterables):
    for it in iterables:
        yield from it


def _copy(model, fields: tuple[str, ...], lines, *, extra: tuple[str, ...] = ()) -> None:
    """COPY text lines into a model's table (columns: fields, then extra)."""
    meta = model._meta
    columns = ", ".join(
        connection.ops.quote_name(meta.get_field(f).column) for f in (*fields, *extra)
    )
    sql = f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
    from psycopg.copy import QueuedLibpqWriter

    with connection.cursor() as cursor:
        # The lines are sent by a thread of psycopg's while the next ones are made here.
        with cursor.cursor.copy(sql, writer=QueuedLibpqWriter(cursor.cursor)) as copy:
            batch = []
            for line in lines:
                batch.append(line)
                if len(batch) >= 20000:
                    copy.write("".join(batch))
                    batch.clear()
            if batch:
                copy.write("".join(batch))


# From this many new rows on, their ids are reserved with one call instead of a nextval each.
RESERVE_MIN = 10_000


def _reserve_range(table: str, n: int) -> range | None:
    """n consecutive ids of the table's sequence, taken in one step: in a short transaction
    of its own (a second connection), the sequence's increment is set to n, nextval is
    called once and the increment is set back. The ALTER locks the sequence until that
    transaction ends, a few milliseconds: whoever calls nextval meanwhile waits, then gets
    a value past the range. None when the lock is not had within a second (a transaction
    still holding the sequence, e.g. one that inserted and has not ended): the caller
    then takes the ids one by one."""
    quote = connection.ops.quote_name
    try:
        other = connection.Database.connect(**connection.get_connection_params())
    except Exception:
        return None
    try:
        with other.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            cursor.execute(
                "SELECT increment_by FROM pg_sequences "
                "WHERE format('%%I.%%I', schemaname, sequencename)::regclass = %s::regclass",
                [sequence],
            )
            step = cursor.fetchone()[0]
            if step != 1:
                other.rollback()
                return None
            name = ".".join(quote(part) for part in sequence.split("."))
            # The lock first (nobody's nextval runs from here to the commit), then one
            # value as usual (after a setval(..., false) nextval gives the value set, not
            # one past it), then that value plus n: the n values from the first are ours.
            cursor.execute(f"ALTER SEQUENCE {name} INCREMENT BY 1")
            cursor.execute("SELECT nextval(%s)", [sequence])
            low = cursor.fetchone()[0]
            cursor.execute(f"ALTER SEQUENCE {name} INCREMENT BY {int(n)}")
            cursor.execute("SELECT nextval(%s)", [sequence])
            high = cursor.fetchone()[0]
            cursor.execute(f"ALTER SEQUENCE {name} INCREMENT BY 1")
            if high != low + n:
                other.rollback()
                return None
        other.commit()
    except Exception:
        log.info("could not reserve %s ids of %s at once", n, table, exc_info=True)
        return None
    finally:
        other.close()
    return range(low, low + n)


def _allocate_ids(model, n: int) -> list[int] | range:
    """Primary keys for n new rows, known before writing (heads and tags point to them)."""
    if n == 0:
        return []
    table = model._meta.db_table
    if connection.vendor == "postgresql" and n >= RESERVE_MIN:
        reserved = _reserve_range(table, n)
        if reserved is not None:
            return reserved
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
            # n distinct values spanning exactly n numbers are that range: only its ends
            # travel (a million ids otherwise); concurrent inserts can leave gaps, and then
            # every value is fetched.
            cursor.execute(f"SELECT min(v), max(v) FROM ({sql}) AS ids(v)", [table, n])
            low, high = cursor.fetchone()
            if high - low + 1 == n:
                return range(low, high + 1)
            cursor.execute(sql, [table, n])
            return [pk for (pk,) in cursor.fetchall()]
        # SQLite: the import transaction holds the write lock (transaction_mode IMMEDIATE).
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        start = cursor.fetchone()[0] + 1
    return range(start, start + n)


# From this many values on, "which are already there" is answered by COPYing them into a
# temporary table and joining (one hash join), not by index probes per value.
BULK_LOOKUP_MIN = 50000


def _present(model, field: str, values: list[str]) -> list[str]:
    """Which of these values the table already holds."""
    if not values:
        return []
    meta = model._meta
    if connection.vendor != "postgresql":
        found = []
        for chunk in _chunks(values, 900):
            found += model.objects.filter(**{f"{field}__in": chunk}).values_list(field, flat=True)
        return found
    quote = connection.ops.quote_name
    column, table = quote(meta.get_field(field).column), quote(meta.db_table)
    with connection.cursor() as cursor:
        if len(values) < BULK_LOOKUP_MIN:
            cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [values])
            return [v for (v,) in cursor.fetchall()]
        with transaction.atomic():
            cursor.execute("CREATE TEMPORARY TABLE minqing_import_keys (value text)")
            with cursor.cursor.copy("COPY minqing_import_keys (value) FROM STDIN") as copy:
                for chunk in _chunks(values, 20000):
                    copy.write("".join(f"{_esc(v)}\n" for v in chunk))
            cursor.execute("ANALYZE minqing_import_keys")
            cursor.execute(
                f"SELECT k.value FROM minqing_import_keys k JOIN {table} t ON t.{column} = k.value"
            )
            found = [v for (v,) in cursor.fetchall()]
            cursor.execute("DROP TABLE minqing_import_keys")
        return found


def _existing_households(numbers: list[str]) -> dict[str, tuple]:
    """户编号 -> (id, grid id, has a living head, grid path, address, phone) of households
    already there."""
    if connection.vendor == "postgresql":
        sql = (
            "SELECT h.number, h.id, h.grid_id, a.path, h.address, h.phone, EXISTS (SELECT 1 "
            "FROM registry_resident r WHERE r.household_id = h.id AND r.relation = %s AND "
            "r.status = %s) FROM minqing_import_keys k "
            "JOIN registry_household h ON h.number = k.value JOIN areas_area a ON a.id = h.grid_id"
        )
        params = [Relation.HEAD.value, ResidentStatus.LIVING.value]
        return {
            n: (pk, g, headed, path, address, phone)
            for n, pk, g, path, address, phone, headed in _join_keys(
                numbers, sql, params, table="registry_household"
            )
        }
    else:
        rows = []
        for chunk in _chunks(_present(Household, "number", numbers), 900):
            rows += Household.objects.filter(number__in=chunk).values_list(
                "number", "pk", "grid_id", "grid__path", "address", "phone"
            )
    headed = set()
    for chunk in _chunks([r[1] for r in rows], 5000):
        headed.update(
            Resident.objects.filter(
                household_id__in=chunk, relation=Relation.HEAD, status=ResidentStatus.LIVING
            ).values_list("household_id", flat=True)
        )
    return {
        number: (pk, grid, pk in headed, path, address, phone)
        for number, pk, grid, path, address, phone in rows
    }


def registry_mark():
    """Where the registry stands before a dry run reads it (PostgreSQL): the snapshot of
    the transactions then committed, the last change-log entry and the time; None
    elsewhere (SQLite re-checks every commit)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT txid_current_snapshot()::text, "
            "COALESCE((SELECT max(seq) FROM minqing_registry_change), 0)"
        )
        snapshot, seq = cursor.fetchone()
    return (snapshot, seq, timezone.now().timestamp())


def registry_changed_since(mark) -> bool:
    """Whether a transaction the dry run could not see has written to residents,
    households, tag periods, areas or jurisdictions since (or the log may have been
    purged in between): then the commit checks the plan again."""
    snapshot, seq, at = mark
    if timezone.now().timestamp() - at > CHANGE_LOG_DAYS * 86400 / 2:
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM minqing_registry_change WHERE "
            "CASE WHEN txid = txid_current() THEN seq > %s "
            "ELSE NOT txid_visible_in_snapshot(txid, %s::txid_snapshot) END)",
            [seq, snapshot],
        )
        return cursor.fetchone()[0]


CHANGE_LOG_DAYS = 30


def purge_change_log() -> None:
    """Old change-log entries go (a plan older than half their age is re-checked)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM minqing_registry_change WHERE at < now() - make_interval(days => %s)",
            [CHANGE_LOG_DAYS],
        )


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _common_area(paths) -> int | None:
    """The lowest area holding every grid touched: the audit event hangs on it."""
    paths = [p for p in paths if p]
    if not paths:
        return None
    prefix = os.path.commonprefix(paths)
    codes = [c for c in prefix.split(".")[:-1] if c] if "." in prefix else []
    if not codes:
        return None
    return Area.objects.filter(code=codes[-1]).values_list("pk", flat=True).first()


def _fill_keys(rows) -> None:
    """Search keys (繁→简, pinyin, initials) of the people about to be written, once per
    distinct name."""
    cache: dict[str, tuple[str, str, str]] = {}
    keys_of = NameKeys()
    for p in rows:
        keys = cache.get(p.name)
        if keys is None:
            norm, pinyin, initials = keys_of(p.name)
            keys = cache[p.name] = (norm[: rules.MAX_NAME], pinyin[:200], initials[:50])
        p.keys = keys


def template_sheets(actor) -> list[tuple]:
    """The import template: the ledger sheet, and the user's grids with their codes."""
    grids = []
    if actor is not None:
        grids = (
            Area.objects.visible_to(actor)
            .filter(level=Level.GRID)
            .order_by("path")
            .values_list("code", "name", "parent__name")[:5000]
        )
    return [
        (_("户籍台账"), TEMPLATE_HEADERS, TEMPLATE_EXAMPLE),
        (_("我的网格"), [_("网格代码"), _("网格名称"), _("所属村/社区")], grids),
    ]


def grid_key(value: str) -> str:
    """A grid name compared as people write it: half-width, no spaces, 一 as 1."""
    text = half_width(str(value)).replace(" ", "")
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(0))), text)


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(
    r"(?<=第)[零〇一二两三四五六七八九十]+|[零〇一二两三四五六七八九十]+(?=[组网格号])"
)


def _cn_to_int(text: str) -> int:
    if "十" not in text:
        value = 0
        for ch in text:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    tens, _sep, ones = text.partition("十")
    return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)


# Tag synonyms cadres write in the 人员类别 column.
TAG_SYNONYMS = {
    "低保": ("低保户", "最低生活保障", "城乡低保"),
    "五保": ("五保户",),
    "特困": ("特困人员", "特困供养"),
    "残疾": ("残疾人", "残疾人员"),
    "建档立卡贫困户": ("建档立卡", "贫困户", "建档立卡户"),
    "空巢老人": ("空巢",),
    "留守儿童": ("留守",),
    "党员": ("中共党员",),
}


def _change_label(field: str) -> str:
    return {
        "name": _("姓名"),
        "phone": _("手机号"),
        "relation": _("与户主关系"),
        "status": _("状态"),
        "household": _("户编号"),
        "address": _("住址"),
        "household_phone": _("户联系电话"),
        "tags": _("标签"),
    }.get(field, field)


def report_foreign_ids(*, actor, ids: list[str], rows: dict[str, int], errors, show) -> None:
    """People of the file already registered outside the importer's jurisdiction: the
    import is refused for them, without saying where they are.

    The single place where the cross-jurisdiction duplicate-ID rule of the services
    (an audit event per conflict, a rate limit per user) applies to the import."""
    from .services import id_conflicts_outside

    id_conflicts_outside(actor=actor, numbers=ids)  # gated for every import, as the service
    for idn in ids:
        errors.add(
            rows[idn],
            _("身份证号 %(id)s 已在其他辖区登记,请联系乡镇(街道)核实") % {"id": show(idn)},
            "id_number",
        )


def _registered(ids: list[str]) -> dict[str, tuple]:
    """身份证号 -> (pk, name, phone, relation, status, household id, 户编号, grid path) of
    people already registered: one join on a temporary table of the file's IDs on
    PostgreSQL, batched queries elsewhere."""
    columns = (
        *("id_number", "pk", "name", "phone", "relation", "status", "household_id"),
        *("household__number", "household__grid__path"),
    )
    out = {}
    if connection.vendor == "postgresql":
        sql = (
            "SELECT r.id_number, r.id, r.name, r.phone, r.relation, r.status, r.household_id, "
            "h.number, a.path FROM minqing_import_keys k "
            "JOIN registry_resident r ON r.id_number = k.value "
            "JOIN registry_household h ON h.id = r.household_id "
            "JOIN areas_area a ON a.id = h.grid_id"
        )
        for row in _join_keys(ids, sql, table="registry_resident"):
            out[row[0]] = row[1:]
        return out
    present = _present(Resident, "id_number", ids)
    for chunk in _chunks(present, 2000):
        for row in Resident.objects.filter(id_number__in=chunk).values_list(*columns):
            out[row[0]] = row[1:]
    return out


# Fewer keys than this share of the rows of the table they are looked up in: one index
# probe per key (a 50,000-row file on a million residents: 0.1 s of probes where the
# hash join reads the whole table, 1 s and more); more: the hash join.
PROBE_SHARE = 0.25


def _few_against(cursor, table: str, n: int) -> bool:
    """Whether n keys are few against the table's rows (as of its last ANALYZE; a table
    never analyzed counts as empty: the hash join)."""
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
    return n < PROBE_SHARE * max(cursor.fetchone()[0], 0)


def _join_keys(values: list[str], sql: str, params=None, *, table: str) -> list[tuple]:
    """COPY the values into a temporary table `minqing_import_keys (value)` and run one
    SELECT joining it to `table` (and what hangs on it): a hash join over the table when
    the keys are many against it, one index probe per key (nested loops) when they are
    few."""
    with connection.cursor() as cursor, transaction.atomic():
        probe = _few_against(cursor, table, len(values))
        cursor.execute("CREATE TEMPORARY TABLE minqing_import_keys (value text)")
        with cursor.cursor.copy("COPY minqing_import_keys (value) FROM STDIN") as copy:
            for chunk in _chunks(values, 20000):
                copy.write("".join(f"{_esc(v)}\n" for v in chunk))
        if probe:
            # The planner would read the whole table (it counts every probe as a random
            # read); the joins are nested loops over the keys for this statement only.
            cursor.execute(
                "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin'),"
                " set_config('enable_hashjoin', 'off', true),"
                " set_config('enable_mergejoin', 'off', true)"
            )
            hashjoin, mergejoin = cursor.fetchone()[:2]
        else:
            cursor.execute("ANALYZE minqing_import_keys")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        if probe:
            cursor.execute(
                "SELECT set_config('enable_hashjoin', %s, true), "
                "set_config('enable_mergejoin', %s, true)",
                [hashjoin, mergejoin],
            )
        cursor.execute("DROP TABLE minqing_import_keys")
    return rows


def _registered_heads(household_ids: list[int]) -> dict[int, list[tuple]]:
    """household id -> [(身份证号, name, birth date)] of its living 户主."""
    out: dict[int, list[tuple]] = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT household_id, id_number, name, birth_date FROM registry_resident "
                "WHERE household_id = ANY(%s) AND relation = %s AND status = %s",
                [list(household_ids), Relation.HEAD.value, ResidentStatus.LIVING.value],
            )
            for hid, idn, name, birth in cursor.fetchall():
                out.setdefault(hid, []).append((idn, name, birth))
        return out
    for chunk in _chunks(household_ids, 5000):
        for hid, idn, name, birth in Resident.objects.filter(
            household_id__in=chunk, relation=Relation.HEAD, status=ResidentStatus.LIVING
        ).values_list("household_id", "id_number", "name", "birth_date"):
            out.setdefault(hid, []).append((idn, name, birth))
    return out


register_importer(ResidentImporter())
