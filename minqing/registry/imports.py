"""Household and resident import (台账导入), in the shape cadres keep their ledgers:
one row per person, the 户编号 grouping the members of a household.

All or nothing: every row is checked (身份证号, duplicates in the file and in the
database, grid known and inside the importer's jurisdiction, one head per household,
members of a household in one grid, relation, status, tags, phone) before anything is
written. Validation runs over plain tuples with every lookup cached (grids, tags, the
search keys of each distinct name) and the database asked in a few batched queries, so
a million rows validate in seconds. The write is COPY on PostgreSQL and bulk_create
batches elsewhere, inside the import transaction, with one summary audit event.
"""

import os
import re
from datetime import date
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minqing.areas.models import Area, Level
from minqing.core.audit import audit_record
from minqing.core.errors import Conflict
from minqing.core.idcard import CHECK, PROVINCES, WEIGHTS, IdNumberError, parse_id_number
from minqing.core.imports import PROGRESS_EVERY, Importer, RowErrors, register_importer
from minqing.core.scoping import covers
from minqing.core.tabular import map_columns

from .models import Household, Relation, Resident, ResidentStatus, Tag, TagPeriod
from .search_keys import name_keys, phone_tail, to_simplified
from .summaries import summaries_refresh

# Field -> accepted headers, the first one is what the template and error messages use.
COLUMNS = {
    "grid": ("网格代码", "网格编码", "网格编号", "网格", "所属网格", "网格名称"),
    "number": ("户编号", "户号", "户编码", "家庭编号", "户籍编号"),
    "address": ("住址", "地址", "家庭住址", "现住址", "居住地址"),
    "name": ("姓名", "名字"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "身份证", "证件号码"),
    "relation": ("与户主关系", "关系", "家庭关系"),
    "phone": ("手机号", "手机号码", "手机", "联系电话", "电话"),
    "status": ("状态", "人员状态", "居住状态"),
    "household_phone": ("户联系电话", "户电话", "家庭电话", "家庭联系电话"),
    "notes": ("备注", "户备注"),
    "tags": ("标签", "重点人群", "人员类别", "人群类别"),
}
FIELDS = tuple(COLUMNS)
REQUIRED = {"grid", "number", "name", "id_number", "relation"}
TEMPLATE_HEADERS = [COLUMNS[f][0] for f in FIELDS]
TEMPLATE_EXAMPLE = [
    ["430372100201001", "430372100201001-0001", "七星村一组 12 号", "张德书", "430302195503071233"]
    + ["户主", "13807321234", "在住", "0731-52801234", "", "党员、低保"],
    ["430372100201001", "430372100201001-0001", "七星村一组 12 号", "李桂兰", "430302195708121249"]
    + ["配偶", "", "在住", "", "", "残疾"],
]

RELATION_WORDS = {
    Relation.HEAD: ("户主", "本人", "户主本人"),
    Relation.SPOUSE: ("配偶", "妻", "妻子", "夫", "丈夫", "老伴"),
    Relation.CHILD: (
        *("子女", "子", "女", "儿子", "女儿", "长子", "次子", "三子", "长女", "次女", "三女"),
        *("养子", "养女", "继子", "继女", "独生子", "独生女"),
    ),
    Relation.PARENT: ("父母", "父亲", "母亲", "父", "母", "公公", "婆婆", "岳父", "岳母"),
    Relation.GRANDCHILD: ("孙子女", "孙子", "孙女", "外孙", "外孙子", "外孙女"),
    Relation.GRANDPARENT: ("祖父母", "祖父", "祖母", "外祖父", "外祖母", "爷爷", "奶奶"),
    Relation.SIBLING: (
        *("兄弟姐妹", "兄", "弟", "姐", "妹", "哥哥", "弟弟", "姐姐", "妹妹", "兄弟", "姐妹"),
    ),
    Relation.CHILD_IN_LAW: ("儿媳/女婿", "儿媳", "女婿", "媳妇", "儿媳妇"),
    Relation.OTHER: ("其他", "其它", "亲属", "其他亲属"),
}
STATUS_WORDS = {
    ResidentStatus.LIVING: ("", "在住", "在户", "正常", "现住", "常住", "在家"),
    ResidentStatus.MOVED_OUT: ("迁出", "已迁出", "外迁"),
    ResidentStatus.DECEASED: ("已故", "死亡", "去世", "已死亡", "死亡注销"),
}


def _word_table(words: dict) -> dict[str, str]:
    table = {}
    for value, names in words.items():
        for name in (*names, value, value.label if hasattr(value, "label") else value):
            table[str(name).lower()] = str(value)
    return table


_RELATIONS = _word_table(RELATION_WORDS)
_STATUSES = _word_table(STATUS_WORDS)
_TAG_SPLIT = re.compile(r"[、,，;；/|\s]+")
# Mobile (optionally +86), a landline with area code (and extension), or a local number.
_PHONE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})|(0\d{2,3}-?\d{7,8}(?:-\d{1,6})?)|([2-9]\d{6,7})")
_ID_LENGTH = 18
MAX_NAME = Resident._meta.get_field("name").max_length
MAX_NUMBER = Household._meta.get_field("number").max_length
MAX_ADDRESS = Household._meta.get_field("address").max_length
MAX_PHONE = Household._meta.get_field("phone").max_length

# The 身份证号 check digit from lookup tables of 3-digit chunks: the same result as
# core.idcard.check_digit, about five times faster (this runs once per imported row).
_CHUNKS = [(i, min(i + 3, 17)) for i in range(0, 17, 3)]
_CHUNK_SUMS = [
    {
        f"{n:0{b - a}d}": sum(
            int(c) * w for c, w in zip(f"{n:0{b - a}d}", WEIGHTS[a:b], strict=True)
        )
        for n in range(10 ** (b - a))
    }
    for a, b in _CHUNKS
]


def fast_check_digit(first17: str) -> str:
    t0, t1, t2, t3, t4, t5 = _CHUNK_SUMS
    return CHECK[
        (
            t0[first17[0:3]]
            + t1[first17[3:6]]
            + t2[first17[6:9]]
            + t3[first17[9:12]]
            + t4[first17[12:15]]
            + t5[first17[15:17]]
        )
        % 11
    ]


class _Household:
    """What the file says about one 户编号 (its rows are members)."""

    __slots__ = (
        "number",
        "first_row",
        "grid_value",
        "grid_id",
        "grid_path",
        "address",
        "phone",
        "notes",
        "heads",
        "head_phone",
        "existing_id",
        "existing_has_head",
        "former_heads",
        "id",
        "head_id",
        "members",
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
        self.heads: list[int] = []  # rows of the living 户主 (a former, deceased one may stay)
        self.head_phone = ""
        self.existing_id = None
        self.existing_has_head = False
        self.former_heads = 0  # 户主 rows of people moved out or deceased
        self.id = None
        self.head_id = None
        self.members = 0


class ResidentImporter(Importer):
    kind = "registry"
    perm = "registry.import"
    label = gettext_lazy("导入户籍台账")
    template_headers = TEMPLATE_HEADERS

    # ---------------------------------------------------------------- validate

    def validate(self, *, actor, table, errors: RowErrors, progress):
        index = map_columns(table.headers, COLUMNS, required=REQUIRED)
        rows = self._read(table, index)
        total = len(rows)
        progress(0, total)
        if not rows:
            errors.add(1, _("文件中没有数据行"))
            return None
        grids = self._grids(actor, {r[1] for r in rows})
        tags = self._tags()
        today = timezone.localdate()
        births: dict[str, date | None] = {}
        keys_of: dict[str, tuple[str, str, str]] = {}
        seen_ids: dict[str, int] = {}
        households: dict[str, _Household] = {}
        household_tags: set[tuple[str, int]] = set()
        out = []
        add = errors.add
        relations, statuses = _RELATIONS, _STATUSES
        head, living = Relation.HEAD.value, ResidentStatus.LIVING.value
        provinces = PROVINCES
        for i, row in enumerate(rows):
            if i % PROGRESS_EVERY == 0 and i:
                progress(i)
            rowno, grid_v, number, address, name, idn, rel, phone, status, hh_phone, notes, tv = row
            rows[i] = None  # the raw row is not needed again; keep memory flat

            # 身份证号: a fast path for the good ones, core.idcard names what is wrong otherwise
            idn = idn.replace(" ", "").upper()
            birth = None
            if (
                len(idn) == _ID_LENGTH
                and idn[:17].isdigit()
                and idn[:2] in provinces
                and idn[2:6] != "0000"
                and (idn[17].isdigit() or idn[17] == "X")
            ):
                bkey = idn[6:14]
                birth = births.get(bkey, 0)
                if birth == 0:
                    birth = births[bkey] = _birth(bkey, today)
                if birth is not None and fast_check_digit(idn[:17]) != idn[17]:
                    birth = None
            if birth is None:
                if not idn:
                    add(rowno, _("身份证号为空"))
                else:
                    try:
                        parse_id_number(idn, today=today)
                    except IdNumberError as exc:
                        add(rowno, exc.message)
            else:
                first = seen_ids.get(idn)
                if first is None:
                    seen_ids[idn] = rowno
                else:
                    add(
                        rowno,
                        _("身份证号 %(id)s 在文件中重复(第 %(first)d 行)")
                        % {"id": idn, "first": first},
                    )

            if not name:
                add(rowno, _("姓名为空"))
                keys = ("", "", "")
            else:
                if len(name) > MAX_NAME:
                    add(rowno, _("姓名超过 %(n)d 个字") % {"n": MAX_NAME})
                keys = keys_of.get(name)
                if keys is None:
                    norm, pinyin, initials = name_keys(name)
                    keys = keys_of[name] = (norm[:MAX_NAME], pinyin[:200], initials[:50])

            relation = relations.get(rel)
            if relation is None:
                relation = relations.get(to_simplified(rel).lower())
                if relation is None:
                    if rel:
                        add(rowno, _("无法识别的与户主关系:%(v)s") % {"v": rel})
                    else:
                        add(rowno, _("与户主关系为空"))
            status_value = statuses.get(status)
            if status_value is None:
                status_value = statuses.get(to_simplified(status).lower())
                if status_value is None:
                    add(rowno, _("无法识别的状态:%(v)s(应为 在住、迁出 或 已故)") % {"v": status})

            if phone:
                phone = _phone(phone)
                if phone is None:
                    add(rowno, _("手机号格式不对:%(v)s") % {"v": row[7]})
                    phone = ""
            tail = "" if not phone else phone[-4:] if phone.isdigit() else phone_tail(phone)

            tag_ids = None
            if tv:
                tag_ids = []
                for word in _TAG_SPLIT.split(tv):
                    if not word:
                        continue
                    tag = tags.get(word) or tags.get(to_simplified(word))
                    if tag is None:
                        add(rowno, _("未知的标签:%(t)s") % {"t": word})
                    elif tag[1]:  # a household tag: once per household, no resident
                        household_tags.add((number, tag[0]))
                    elif tag[0] not in tag_ids:
                        tag_ids.append(tag[0])
                tag_ids = tuple(tag_ids) or None

            if not number:
                add(rowno, _("户编号为空"))
            elif len(number) > MAX_NUMBER:
                add(rowno, _("户编号超过 %(n)d 个字符") % {"n": MAX_NUMBER})
            grid = grids.get(grid_v)
            if grid is None:
                add(rowno, _("网格为空"))
            elif grid[2]:
                add(rowno, grid[2])
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
                )
            hh.members += 1
            if address and not hh.address:
                if len(address) > MAX_ADDRESS:
                    add(rowno, _("住址超过 %(n)d 个字") % {"n": MAX_ADDRESS})
                hh.address = address
            if hh_phone and not hh.phone:
                hh.phone = _phone(hh_phone) or ""
                if not hh.phone:
                    add(rowno, _("户联系电话格式不对:%(v)s") % {"v": hh_phone})
            if notes and notes not in hh.notes:
                hh.notes.append(notes)
            if relation == head:
                if status_value == living:
                    hh.heads.append(rowno)
                    hh.head_phone = phone
                else:
                    hh.former_heads += 1

            out.append(
                (rowno, hh, name, idn, birth, phone, relation, status_value, keys, tail, tag_ids)
            )
        progress(total)

        self._check_households(actor, households, errors)
        self._check_existing_ids(actor, seen_ids, errors)
        existing_tags = self._existing_household_tags(households, household_tags)
        return {
            "residents": out,
            "households": households,
            "household_tags": sorted(household_tags - existing_tags),
        }

    def _read(self, table, index: dict[str, int]) -> list[tuple]:
        """The cells this import uses, as tuples (row number first); absent columns are ''."""
        width = max(index.values()) + 1
        get = itemgetter(*[index.get(f, width) for f in FIELDS])
        pad = [""] * (width + 1)
        rows = []
        append = rows.append
        for number, cells in table.rows:
            if len(cells) <= width:
                cells = cells + pad[: width + 1 - len(cells)]
            append((number, *get(cells)))
        return rows

    def _grids(self, actor, values: set[str]) -> dict[str, tuple]:
        """Grid cell value -> (grid id, path, problem or ''); a code or a grid's name."""
        values.discard("")
        codes = [v for v in values if v.isdigit()]
        names = [v for v in values if not v.isdigit()]
        found: dict[str, tuple] = {}
        for chunk in _chunks(codes, 5000):
            for pk, code, level, path, name in Area.objects.filter(code__in=chunk).values_list(
                "pk", "code", "level", "path", "name"
            ):
                found[code] = (pk, level, path, name)

        def inside(path: str) -> bool:
            return covers(actor, path)

        result = {}
        for code in codes:
            area = found.get(code)
            if area is None:
                result[code] = (None, "", _("网格代码 %(c)s 不存在") % {"c": code})
            elif area[1] != Level.GRID:
                result[code] = (None, "", _("%(c)s 不是网格代码") % {"c": code})
            elif not inside(area[2]):
                result[code] = (
                    None,
                    "",
                    _("网格 %(c)s 不在您的管辖范围内") % {"c": code},
                )
            else:
                result[code] = (area[0], area[2], "")
        if names:
            # By name only among grids the importer holds: names repeat across villages.
            visible = Area.objects.visible_to(actor).filter(level=Level.GRID)
            by_name: dict[str, list] = {}
            for chunk in _chunks(names, 5000):
                for pk, path, name in visible.filter(name__in=chunk).values_list(
                    "pk", "path", "name"
                ):
                    by_name.setdefault(name, []).append((pk, path))
            for name in names:
                hits = by_name.get(name, [])
                if len(hits) == 1:
                    result[name] = (hits[0][0], hits[0][1], "")
                elif hits:
                    result[name] = (
                        None,
                        "",
                        _("网格名称 %(n)s 不唯一,请填写网格代码") % {"n": name},
                    )
                else:
                    result[name] = (
                        None,
                        "",
                        _("网格 %(n)s 不存在或不在您的管辖范围内") % {"n": name},
                    )
        return result

    @staticmethod
    def _tags() -> dict[str, tuple[int, bool]]:
        """Tag name or code -> (id, is a household tag)."""
        tags = {}
        for pk, code, name, scope in Tag.objects.values_list("pk", "code", "name", "scope"):
            value = (pk, scope == Tag.Scope.HOUSEHOLD)
            tags[name] = tags[code] = tags[to_simplified(name)] = value
        return tags

    def _check_households(self, actor, households: dict[str, _Household], errors) -> None:
        """One head per household, a head for new ones, existing ones in reach and in place."""
        existing = _existing_households(list(households))
        for number, hh in households.items():
            if not number:
                continue
            if len(hh.heads) > 1:
                rows = "、".join(str(r) for r in hh.heads)
                for r in hh.heads[1:]:
                    errors.add(
                        r, _("户 %(n)s 有多个户主(第 %(rows)s 行)") % {"n": number, "rows": rows}
                    )
            found = existing.get(number)
            if found is None:
                if not hh.heads and not hh.former_heads:
                    errors.add(
                        hh.first_row,
                        _("新户 %(n)s 没有户主:应有一人的与户主关系为“户主”") % {"n": number},
                    )
                if not hh.address:
                    errors.add(hh.first_row, _("新户 %(n)s 没有住址") % {"n": number})
                continue
            pk, grid_id, has_head, grid_path = found
            if not covers(actor, grid_path):
                errors.add(
                    hh.first_row,
                    _("户编号 %(n)s 已登记在您管辖范围以外的网格,不能在此导入") % {"n": number},
                )
                continue
            if hh.grid_id is not None and grid_id != hh.grid_id:
                errors.add(
                    hh.first_row,
                    _("户编号 %(n)s 已登记在另一网格,与本行网格不一致") % {"n": number},
                )
            if has_head and hh.heads:
                for r in hh.heads:
                    errors.add(r, _("户 %(n)s 已有户主,不能再导入户主") % {"n": number})
            hh.existing_id, hh.existing_has_head = pk, has_head
            hh.grid_id, hh.grid_path = grid_id, grid_path

    @staticmethod
    def _check_existing_ids(actor, seen_ids: dict[str, int], errors) -> None:
        """Outside-jurisdiction conflicts are audited and rate-limited by the service."""
        from .services import id_conflicts_outside

        present = _present(Resident, "id_number", list(seen_ids))
        outside = id_conflicts_outside(actor=actor, numbers=present)
        for idn in present:
            if idn in outside:
                message = _("身份证号 %(id)s 已在其他辖区登记,请联系乡镇(街道)核实") % {"id": idn}
            else:
                message = _("身份证号 %(id)s 已在系统中登记") % {"id": idn}
            errors.add(seen_ids[idn], message)

    @staticmethod
    def _existing_household_tags(households, wanted: set[tuple[str, int]]) -> set:
        """Household tags already open on existing households are not given again."""
        by_id = {hh.existing_id: n for n, hh in households.items() if hh.existing_id}
        if not wanted or not by_id:
            return set()
        open_tags = TagPeriod.objects.filter(
            household_id__in=list(by_id),
            resident__isnull=True,
            end_date__isnull=True,
        ).values_list("household_id", "tag_id")
        return {(by_id[h], t) for h, t in open_tags}

    # ---------------------------------------------------------------- apply

    def apply(self, *, actor, plan, job) -> dict:
        households: dict[str, _Household] = plan["households"]
        residents = plan["residents"]
        new = [hh for hh in households.values() if hh.existing_id is None]
        for hh in households.values():
            if hh.existing_id is not None:
                hh.id = hh.existing_id
        resident_ids = _allocate_ids(Resident, len(residents))
        for hh, pk in zip(new, _allocate_ids(Household, len(new)), strict=True):
            hh.id = pk
        head, living = Relation.HEAD.value, ResidentStatus.LIVING.value
        for r, pk in zip(residents, resident_ids, strict=True):
            # The living 户主 heads the household; failing one, the first former 户主 does.
            if r[6] == head and (r[7] == living or (not r[1].heads and r[1].head_id is None)):
                r[1].head_id = pk
        now = timezone.now()
        reason = (_("台账导入:%(f)s") % {"f": job.params.get("filename", "")})[:200]
        try:
            if connection.vendor == "postgresql":
                self._write_copy(actor, plan, new, resident_ids, now, reason)
            else:
                self._write_orm(actor, plan, new, resident_ids, now, reason)
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
        # The COPY bypasses the models: recount the kept summaries of the touched grids.
        summaries_refresh(grid_ids={hh.grid_id for hh in households.values()})
        tag_count = len(plan["household_tags"]) + sum(1 for r in residents if r[10] for _t in r[10])
        summary = {
            "imported": len(residents),
            "residents": len(residents),
            "households_created": len(new),
            "households_extended": len(households) - len(new),
            "tag_periods": tag_count,
        }
        audit_record(
            actor=actor,
            action="registry.import",
            area=_common_area(hh.grid_path for hh in households.values()),
            detail={"job": str(job.pk), "file": job.params.get("filename", ""), **summary},
        )
        return summary

    def _write_copy(self, actor, plan, new, resident_ids, now, reason) -> None:
        households, residents = plan["households"], plan["residents"]
        stamp = now.isoformat()
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
        _copy(
            Resident,
            ("id", "household", "name", "id_number", "gender", "birth_date", "phone"),
            (
                f"{pk}\t{r[1].id}\t{_esc(r[2])}\t{r[3]}\t{'M' if r[3][16] in '13579' else 'F'}\t"
                f"{r[4].isoformat()}\t{r[5]}\t{r[6]}\t{r[7]}\t{_esc(r[8][0])}\t{r[8][1]}\t"
                f"{r[8][2]}\t{r[3][-6:]}\t{r[9]}\t{stamp}\t{stamp}\n"
                for r, pk in zip(residents, resident_ids, strict=True)
            ),
            extra=(
                *("relation", "status", "name_norm", "name_pinyin", "name_initials"),
                *("id_tail", "phone_tail", "created_at", "updated_at"),
            ),
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
                (
                    f"{tag_id}\t{r[1].id}\t{pk}{head}"
                    for r, pk in zip(residents, resident_ids, strict=True)
                    if r[10]
                    for tag_id in r[10]
                ),
            ),
            extra=("end_date", "end_reason", "ended_by", "created_at"),
        )
        with connection.cursor() as cursor:
            # Deferred foreign keys are checked here, inside the import, not at commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def _write_orm(self, actor, plan, new, resident_ids, now, reason) -> None:
        households, residents = plan["households"], plan["residents"]
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
                    household_id=r[1].id,
                    name=r[2],
                    id_number=r[3],
                    gender="M" if r[3][16] in "13579" else "F",
                    birth_date=r[4],
                    phone=r[5],
                    relation=r[6],
                    status=r[7],
                    name_norm=r[8][0],
                    name_pinyin=r[8][1],
                    name_initials=r[8][2],
                    id_tail=r[3][-6:],
                    phone_tail=r[9],
                )
                for r, pk in zip(residents, resident_ids, strict=True)
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
                    TagPeriod(tag_id=tag_id, household_id=r[1].id, resident_id=pk, **common)
                    for r, pk in zip(residents, resident_ids, strict=True)
                    if r[10]
                    for tag_id in r[10]
                ),
            ),
            batch_size=2000,
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
    with connection.cursor() as cursor:
        with cursor.cursor.copy(sql) as copy:
            batch = []
            for line in lines:
                batch.append(line)
                if len(batch) >= 20000:
                    copy.write("".join(batch))
                    batch.clear()
            if batch:
                copy.write("".join(batch))


def _allocate_ids(model, n: int) -> list[int] | range:
    """Primary keys for n new rows, known before writing (heads and tags point to them)."""
    if n == 0:
        return []
    table = model._meta.db_table
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
    """户编号 -> (id, grid id, has a living head, grid path) of households already there."""
    rows = []
    for chunk in _chunks(_present(Household, "number", numbers), 900):
        rows += Household.objects.filter(number__in=chunk).values_list(
            "number", "pk", "grid_id", "grid__path"
        )
    headed = set()
    for chunk in _chunks([r[1] for r in rows], 900):
        headed.update(
            Resident.objects.filter(
                household_id__in=chunk, relation=Relation.HEAD, status=ResidentStatus.LIVING
            ).values_list("household_id", flat=True)
        )
    return {number: (pk, grid, pk in headed, path) for number, pk, grid, path in rows}


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _birth(digits: str, today: date) -> date | None:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    return born if 1890 <= born.year and born <= today else None


def _phone(value: str) -> str | None:
    """A phone as stored (spaces dropped, +86 dropped), or None when it is not a phone."""
    value = value.replace(" ", "")
    match = _PHONE.fullmatch(value)
    if match is None or len(value) > MAX_PHONE:
        return None
    return match.group(1) or value


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


register_importer(ResidentImporter())
