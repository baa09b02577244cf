#!/usr/bin/env python
"""Fill PostgreSQL with a generated city for the benchmarks (and to try the UI at scale).

    .venv/bin/python bench/generate.py --database-url postgres://postgres@127.0.0.1:5432/minqing_bench --seed 1

Creates the database when it is missing and migrates it, then writes with COPY, in one
transaction: 1 city (永州市, whose 3,305 villages the seeds name), its 11 counties,
45 townships, 3,305 villages, ~4 grids per village; units and users of every role with
their jurisdictions; 300,000 households and 1,000,000 residents with valid 身份证号,
common surnames and given names, phones, relations, statuses, and key-group tags with
their dated history (TagPeriod rows, some ended). Search keys (繁→简, pinyin, initials,
id and phone tails) are filled as the app fills them. The same --seed gives the same city.

Options: --households / --residents to scale down, --truncate to empty the data tables
first, --import-csv PATH to also write an import file in the importer's format (rows whose
身份证号 and 户编号 do not collide with the database; --import-residents rows), and
--no-fill to write only that file for a city that already exists.
"""

import argparse
import csv
import itertools
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minqing_bench"
PASSWORD = "minqing-bench"
# A fixed day the ages count from, so the same seed gives the same people on any day.
REFERENCE_DAY = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 9, 0, tzinfo=UTC).isoformat()
NULL = "\\N"

CITY = ("431100000000", "永州市")
COUNTIES = [
    ("431102", "零陵区"),
    ("431103", "冷水滩区"),
    ("431181", "祁阳市"),
    ("431122", "东安县"),
    ("431123", "双牌县"),
    ("431124", "道县"),
    ("431125", "江永县"),
    ("431126", "宁远县"),
    ("431127", "蓝山县"),
    ("431128", "新田县"),
    ("431129", "江华瑶族自治县"),
]
# 身份证号 region codes of the import file: another city (郴州), so no collision.
IMPORT_REGIONS = ["431002", "431003", "431021", "431022", "431023", "431024", "431025"]

# Surnames with rough weights (most common first), given-name characters by gender.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁于余叶蒋杜苏魏"
    "程吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚"
    "邵万钱严赖覃洪武莫孔欧阳"
)
SURNAMES = [c for c in SURNAMES[:-2]] + ["欧阳"]
SURNAME_CUMULATIVE = list(
    itertools.accumulate(max(1.0, 100.0 / (i + 1) ** 0.9) for i in range(len(SURNAMES)))
)
MALE = "伟强磊军勇杰涛明超刚平辉华建国文斌波林峰志海鹏飞德成福贵生龙云亮永兵春新忠宏庆金俊荣富全家祥清振长松良发汉光红卫东正保安顺民泽宇浩轩昊然博晨"
FEMALE = "芳娟敏静丽艳霞秀英玲桂兰红梅凤萍燕琴云莲华洁婷雪琳慧颖倩蓉玉珍翠淑菊香美娥春花月秋荷彩霞佳欣怡涵萱妍雨思梓诗"
PLACE_CHARS = (
    "石马白黄凤龙金桥花杨梅新兴长太高大水东西南北上下清青碧云仙岭江湾塘坪口山田溪源洲冲"
    "枫桃李竹松柏茶桂荷莲平安和福寿永宁富民丰乐泉井湖河潭湘"
)

# Key groups: code -> reasons to give / end it.
START_REASONS = {
    "poverty_enrolled": "精准识别建档立卡",
    "dibao": "家庭人均收入低于低保标准",
    "shidu": "独生子女死亡",
    "wubao": "无劳动能力、无生活来源、无法定赡养人",
    "tekun": "认定为特困供养人员",
    "disabled": "持第二代残疾人证",
    "orphan": "父母双亡",
    "empty_nest": "子女长期在外",
    "left_behind_child": "父母均外出务工",
    "petitioner": "来信来访登记",
    "party_member": "入党",
    "able_farmer": "村两委推荐",
    "retired_cadre": "离退休",
}
END_REASONS = {
    "poverty_enrolled": "脱贫退出",
    "dibao": "收入超过低保标准退出",
    "petitioner": "息诉罢访",
    "left_behind_child": "父母返乡",
    "empty_nest": "子女返乡同住",
    "disabled": "残疾等级复核取消",
    "able_farmer": "不再从事",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--townships", type=int, default=45)
    p.add_argument("--villages", type=int, default=3305)
    p.add_argument("--grids-per-village", type=float, default=4.0)
    p.add_argument("--households", type=int, default=300_000)
    p.add_argument("--residents", type=int, default=1_000_000)
    p.add_argument("--truncate", action="store_true", help="empty the data tables first")
    p.add_argument("--no-fill", action="store_true", help="only write --import-csv")
    p.add_argument("--import-csv", type=Path, help="also write an import file here")
    p.add_argument("--import-residents", type=int, default=1_000_000)
    # Realistic volume for the audit page (views, reveals, edits, exports over a year).
    p.add_argument("--audit-events", type=int, default=1_000_000)
    p.add_argument(
        "--appeals",
        type=int,
        default=1_000_000,
        help="appeals with their workflow events, by COPY (bench/generate_appeals.py)",
    )
    args = p.parse_args(argv)
    if args.residents < args.households:
        p.error("--residents must be at least --households (every household has a head)")
    if args.villages < args.townships:
        p.error("--villages must be at least --townships")
    return args


def setup_django(url: str) -> None:
    """Point Django at the bench database (created when missing) and migrate it."""
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    os.environ.setdefault("MINQING_VAR_DIR", str(ROOT / "bench" / "out" / "var"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


class Timer:
    def __init__(self):
        self.start = self.last = time.perf_counter()

    def lap(self, label: str) -> None:
        now = time.perf_counter()
        print(f"  {label:<44} {now - self.last:7.1f} s", flush=True)
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.start


# ------------------------------------------------------------------------- writing


def copy_lines(table: str, columns: list[str], lines) -> int:
    """COPY tab-separated text lines into a table; returns the number of rows."""
    from django.db import connection

    n = 0
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) >= 20000:
                copy.write("".join(batch))
                n += len(batch)
                batch.clear()
        if batch:
            copy.write("".join(batch))
            n += len(batch)
    return n


def reset_sequences(tables: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)",
                [table],
            )


BULK_TABLES = ["registry_household", "registry_resident", "registry_tagperiod"]


def drop_secondary_indexes(tables: list[str]) -> list[str]:
    """Indexes that back no constraint, dropped before the bulk COPY and built again after
    it (much faster than maintaining them row by row); returns their definitions. Inside
    the fill's transaction, so a failure leaves them as they were."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [tables],
        )
        found = cursor.fetchall()
        for name, _definition in found:
            cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in found]


def build_indexes(definitions: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition)


def truncate_data() -> None:
    """Empty every table the app writes, keeping the seeded tags and Django's own."""
    from django.apps import apps
    from django.db import connection

    keep = {"registry_tag", "django_migrations", "django_content_type", "auth_permission"}
    keep |= {"auth_group", "auth_group_permissions"}
    tables = sorted(
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if m._meta.db_table not in keep and not m._meta.proxy and m._meta.managed
    )
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


# ------------------------------------------------------------------------- the city


class City:
    def __init__(self, rng: random.Random, args):
        self.rng = rng
        self.args = args
        self.areas = []  # (id, level, code, name, parent_id, path)
        self.counties = []  # (id, code, name, path)
        self.townships = []  # (id, code, name, path, county_region)
        self.villages = []  # (id, code, name, path, township_index)
        self.grids = []  # (id, code, name, path, village_index)

    def place_name(self, used: set, n: int = 2) -> str:
        for _ in range(50):
            name = "".join(self.rng.choice(PLACE_CHARS) for _ in range(n))
            if name not in used:
                used.add(name)
                return name
        return name

    def build(self) -> None:
        rng, args = self.rng, self.args
        next_id = iter(range(1, 10**9)).__next__
        city_id = next_id()
        city_path = f"{CITY[0]}."
        self.areas.append((city_id, 1, CITY[0], CITY[1], None, city_path))
        for region, name in COUNTIES:
            code = f"{region}000000"
            pk = next_id()
            path = f"{city_path}{code}."
            self.areas.append((pk, 2, code, name, city_id, path))
            self.counties.append((pk, code, name, path))
        used: set = set()
        for t in range(args.townships):
            county = self.counties[t % len(self.counties)]
            seq = t // len(self.counties)
            kind = "街道" if seq == 0 and t < 4 else ("镇" if rng.random() < 0.7 else "乡")
            number = (1 if kind == "街道" else 100) + seq
            code = f"{county[1][:6]}{number:03d}000"
            name = self.place_name(used) + kind
            pk = next_id()
            path = f"{county[3]}{code}."
            self.areas.append((pk, 3, code, name, county[0], path))
            self.townships.append((pk, code, name, path, county[1][:6]))
        per_township = [args.villages // args.townships] * args.townships
        for i in range(args.villages - sum(per_township)):
            per_township[i] += 1
        for t, count in enumerate(per_township):
            township = self.townships[t]
            vused: set = set()
            for v in range(count):
                urban = township[2].endswith("街道") and v < count // 2
                code = f"{township[1][:9]}{(1 if urban else 200) + v:03d}"
                name = self.place_name(vused) + ("社区" if urban else "村")
                pk = next_id()
                path = f"{township[3]}{code}."
                self.areas.append((pk, 4, code, name, township[0], path))
                self.villages.append((pk, code, name, path, t))
        whole = int(args.grids_per_village)
        extra = args.grids_per_village - whole
        for v, village in enumerate(self.villages):
            n = max(1, whole + (1 if rng.random() < extra else 0) + rng.choice((-1, 0, 0, 1)))
            for g in range(1, n + 1):
                code = f"{village[1]}{g:03d}"
                pk = next_id()
                name = f"{village[2]}第{g}网格"
                path = f"{village[3]}{code}."
                self.areas.append((pk, 5, code, name, village[0], path))
                self.grids.append((pk, code, name, path, v))

    def write_areas(self) -> int:
        return copy_lines(
            "areas_area",
            ["id", "level", "code", "name", "parent_id", "path"],
            (
                f"{pk}\t{lvl}\t{code}\t{name}\t{parent if parent else NULL}\t{path}\n"
                for pk, lvl, code, name, parent, path in self.areas
            ),
        )


def write_units_and_users(city: City) -> dict:
    """Units, and users of every role with their jurisdictions; one password for all."""
    from django.contrib.auth.hashers import make_password

    password = make_password(PASSWORD)
    units, users, jurisdictions = [], [], []
    unit_id = iter(range(1, 10**9)).__next__
    user_id = iter(range(1, 10**9)).__next__
    cadre_of_village = {}

    def user(username, role, area_id, *, unit=None, name=("", ""), superuser=False):
        pk = user_id()
        users.append(
            f"{pk}\t{password}\t{NULL}\t{'t' if superuser else 'f'}\t{username}\t{name[1]}\t"
            f"{name[0]}\t\t{'t' if superuser else 'f'}\tt\t{NOW}\t{role}\t"
            f"{unit if unit else NULL}\t\n"
        )
        jurisdictions.append(f"{pk}\t{area_id}\n")
        return pk

    city_id = city.areas[0][0]
    user("admin", "admin", city_id, name=("管", "理员"), superuser=True)
    user("leader", "leader", city_id, name=("市", "领导"))
    user("supervisor", "supervisor", city_id, name=("督", "查室"))
    for pk, code, name, _path in city.counties:
        for kind, label, role in (
            ("county_department", "民政局", "department_staff"),
            ("police_station", "公安局", "department_staff"),
            ("supervision_office", "督查室", "supervisor"),
            ("political_legal", "政法委", "political_legal"),
        ):
            u = unit_id()
            units.append(f"{u}\t{name}{label}\t{kind}\t{pk}\t\tt\n")
            user(f"{role}-{code[:6]}-{u}", role, pk, unit=u)
        user(f"leader-{code[:6]}", "leader", pk)
    for pk, code, name, _path, _region in city.townships:
        u = unit_id()
        units.append(f"{u}\t{name}人民政府\ttownship_government\t{pk}\t\tt\n")
        units.append(f"{unit_id()}\t{name}派出所\tpolice_station\t{pk}\t\tt\n")
        for i in (1, 2):
            user(f"township-{code[:9]}-{i}", "township_staff", pk, unit=u)
    for pk, code, name, _path, _t in city.villages:
        u = unit_id()
        units.append(f"{u}\t{name}村民委员会\tvillage_committee\t{pk}\t\tt\n")
        cadre_of_village[pk] = user(f"cadre-{code}", "village_cadre", pk, unit=u)
    for pk, code, _name, _path, _v in city.grids:
        user(f"grid-{code}", "grid_worker", pk, unit=None)
    copy_lines("accounts_unit", ["id", "name", "kind", "area_id", "phone", "is_active"], units)
    copy_lines(
        "accounts_user",
        [
            *("id", "password", "last_login", "is_superuser", "username", "first_name"),
            *("last_name", "email", "is_staff", "is_active", "date_joined", "role", "unit_id"),
            "phone",
        ],
        users,
    )
    copy_lines("accounts_jurisdiction", ["user_id", "area_id"], jurisdictions)
    return {"users": len(users), "units": len(units), "cadre_of_village": cadre_of_village}


# ------------------------------------------------------------------------- people


class People:
    """Households and their members: names, 身份证号, phones, relations, statuses."""

    def __init__(self, rng: random.Random):
        from minqing.registry.search_keys import name_keys

        self.rng = rng
        self.name_keys = name_keys
        self.keys: dict[str, tuple] = {}
        self.orders: dict[tuple, int] = {}

    def surname(self) -> str:
        return self.rng.choices(SURNAMES, cum_weights=SURNAME_CUMULATIVE)[0]

    def given(self, male: bool) -> str:
        chars = MALE if male else FEMALE
        rng = self.rng
        if rng.random() < 0.22:
            return rng.choice(chars)
        return rng.choice(chars) + rng.choice(chars)

    def search_keys(self, name: str) -> tuple:
        keys = self.keys.get(name)
        if keys is None:
            norm, pinyin, initials = self.name_keys(name)
            keys = self.keys[name] = (norm, pinyin[:200], initials[:50])
        return keys

    def id_number(self, region: str, birth: date, male: bool) -> str:
        from minqing.core.idcard import check_digit

        key = (region, birth, male)
        k = self.orders.get(key, 0)
        if k >= 500:  # 500 people of one sex born on one day in one county: try a neighbour
            return self.id_number(region, birth + timedelta(days=1), male)
        self.orders[key] = k + 1
        first17 = f"{region}{birth:%Y%m%d}{2 * k + (1 if male else 0):03d}"
        return first17 + check_digit(first17)

    def phone(self) -> str:
        rng = self.rng
        return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"

    def birth(self, age: int) -> date:
        day = REFERENCE_DAY - timedelta(days=int(age * 365.25) + self.rng.randrange(365))
        return max(day, date(1910, 1, 1))

    def household(self, size: int) -> list[dict]:
        """Members of one household: a head, often a spouse, then children, parents..."""
        rng = self.rng
        head_age = rng.randint(24, 86)
        head_male = rng.random() < 0.82
        head_surname = self.surname()
        members = [("head", head_age, head_male, head_surname)]
        family = head_surname
        if size > 1 and rng.random() < 0.86:
            age = max(20, head_age + rng.randint(-5, 4))
            spouse_surname = self.surname()
            members.append(("spouse", age, not head_male, spouse_surname))
            if not head_male:
                family = spouse_surname
        if head_age < 42:
            plan = ["child", "child", "parent", "parent", "child", "sibling", "other"]
        elif head_age < 62:
            plan = ["child", "child", "child_in_law", "grandchild", "parent", "child", "grandchild"]
        else:
            plan = ["child", "child_in_law", "grandchild", "grandchild", "child", "grandchild"]
        plan += ["other"] * 8
        for relation in plan:
            if len(members) >= size:
                break
            male = rng.random() < 0.51
            if relation == "child":
                age = head_age - rng.randint(22, 34)
                surname = family
            elif relation == "grandchild":
                age = head_age - rng.randint(44, 60)
                surname = family
            elif relation == "child_in_law":
                age = head_age - rng.randint(22, 32)
                surname = self.surname()
                male = rng.random() < 0.3
            elif relation == "parent":
                age = head_age + rng.randint(22, 32)
                surname = head_surname if male else self.surname()
            elif relation == "sibling":
                age = head_age + rng.randint(-8, 8)
                surname = head_surname
            else:
                age = rng.randint(1, 80)
                surname = self.surname()
            if age < 0 or age > 100 or (relation == "child_in_law" and age < 18):
                relation, age, surname = "other", rng.randint(1, 80), self.surname()
            members.append((relation, age, male, surname))
        return members


def sizes_for(rng: random.Random, households: int, residents: int) -> list[int]:
    """Household sizes with a rural shape (many 2-5) summing exactly to `residents`."""
    sizes = rng.choices(range(1, 9), [13, 22, 20, 20, 13, 7, 3, 2], k=households)
    diff = residents - sum(sizes)
    while diff:
        i = rng.randrange(households)
        if diff > 0 and sizes[i] < 12:
            sizes[i] += 1
            diff -= 1
        elif diff < 0 and sizes[i] > 1:
            sizes[i] -= 1
            diff += 1
    return sizes


class Tagger:
    """Key-group periods with history: who carried which tag from when to when, and why."""

    def __init__(self, rng: random.Random, tags: dict[str, tuple[int, bool]]):
        self.rng = rng
        self.tags = tags
        self.lines: list[str] = []

    def day(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randrange(max(1, (end - start).days)))

    def add(self, code, household_id, resident_id, start, by, *, end=None, end_reason=""):
        tag = self.tags.get(code)
        if tag is None:
            return
        if tag[1]:  # household tag
            resident_id = None
        self.lines.append(
            f"{tag[0]}\t{household_id}\t{resident_id or NULL}\t{start.isoformat()}\t"
            f"{START_REASONS[code]}\t{by}\t{end.isoformat() if end else NULL}\t{end_reason}\t"
            f"{by if end else NULL}\t{NOW}\n"
        )

    def span(self, code, household_id, resident_id, by, *, since, ended_share=0.0, until=None):
        """One period; some ended (with a reason), some ended and given again later.
        `until`: the carrier died that day, and the period ends with them."""
        rng = self.rng
        last = until or REFERENCE_DAY - timedelta(days=30)
        if since > last:
            return
        start = self.day(since, last)
        if until is not None:
            self.add(code, household_id, resident_id, start, by, end=until, end_reason="死亡")
            return
        if rng.random() < ended_share:
            end = self.day(start + timedelta(days=1), REFERENCE_DAY)
            self.add(
                code, household_id, resident_id, start, by, end=end, end_reason=END_REASONS[code]
            )
            if rng.random() < 0.15 and end < REFERENCE_DAY - timedelta(days=60):
                again = self.day(end + timedelta(days=30), REFERENCE_DAY)
                self.add(code, household_id, resident_id, again, by)
            return
        self.add(code, household_id, resident_id, start, by)


def fill_registry(city: City, people: People, tagger: Tagger, cadre_of_village, args, timer):
    """Households, residents and tags, COPY'd as they are generated."""
    rng = people.rng
    grid_weights = [rng.lognormvariate(0, 0.45) for _ in city.grids]
    household_grids = rng.choices(range(len(city.grids)), grid_weights, k=args.households)
    household_grids.sort()
    sizes = sizes_for(rng, args.households, args.residents)
    region_of_village = {}
    for v, village in enumerate(city.villages):
        region_of_village[v] = city.townships[village[4]][4]
    households: list[str] = []
    seq_in_grid: dict[int, int] = {}
    status_day_floor = REFERENCE_DAY - timedelta(days=5 * 365)
    counts = {"households": 0, "residents": 0}

    def residents():
        resident_id = 0
        for h, g in enumerate(household_grids):
            household_id = h + 1
            grid = city.grids[g]
            village = city.villages[grid[4]]
            township = city.townships[village[4]]
            region = region_of_village[grid[4]]
            by = cadre_of_village.get(village[0], NULL)
            seq = seq_in_grid.get(g, 0) + 1
            seq_in_grid[g] = seq
            members = people.household(sizes[h])
            head_id = resident_id + 1
            head_phone = ""
            all_old = all(m[1] >= 60 for m in members)
            children = 0
            for relation, age, male, surname in members:
                resident_id += 1
                name = surname + people.given(male)
                norm, pinyin, initials = people.search_keys(name)
                birth = people.birth(age)
                idn = people.id_number(region, birth, male)
                phone = people.phone() if 16 <= age <= 75 and rng.random() < 0.8 else ""
                if relation == "head":
                    head_phone = phone
                status, status_day = "living", NULL
                r = rng.random()
                if (age > 70 and r < 0.06) or r < 0.008:
                    status = "deceased"
                elif 18 <= age <= 45 and r < 0.06:
                    status = "moved_out"
                if status != "living":
                    status_day = rng_day(rng, status_day_floor, REFERENCE_DAY).isoformat()
                yield (
                    f"{resident_id}\t{household_id}\t{name}\t{idn}\t{'M' if male else 'F'}\t"
                    f"{birth.isoformat()}\t{phone}\t{relation}\t{status}\t{status_day}\t"
                    f"{norm}\t{pinyin}\t{initials}\t{idn[-6:]}\t{phone[-4:]}\t{NOW}\t{NOW}\n"
                )
                until = date.fromisoformat(status_day) if status == "deceased" else None
                personal_tags(
                    tagger, rng, birth, age, household_id, resident_id, by, until, all_old
                )
                children += age < 16
            household_tags(tagger, rng, household_id, by, children)
            address = f"{township[2]}{village[2]}{1 + seq % 12}组{seq}号"
            households.append(
                f"{household_id}\t{grid[0]}\t{grid[1]}{seq:04d}\t{address}\t{head_id}\t"
                f"{head_phone}\t\t{NOW}\t{NOW}\n"
            )
            counts["households"] += 1
            if household_id % 100_000 == 0:
                print(f"    {household_id:,} households generated", flush=True)
        counts["residents"] = resident_id

    copy_lines(
        "registry_resident",
        [
            *("id", "household_id", "name", "id_number", "gender", "birth_date", "phone"),
            *("relation", "status", "status_date", "name_norm", "name_pinyin", "name_initials"),
            *("id_tail", "phone_tail", "created_at", "updated_at"),
        ],
        residents(),
    )
    timer.lap(f"residents generated and copied ({counts['residents']:,})")
    copy_lines(
        "registry_household",
        [
            *("id", "grid_id", "number", "address", "head_id", "phone", "notes"),
            *("created_at", "updated_at"),
        ],
        households,
    )
    timer.lap(f"households copied ({counts['households']:,})")
    n = copy_lines(
        "registry_tagperiod",
        [
            *("tag_id", "household_id", "resident_id", "start_date", "start_reason"),
            *("started_by_id", "end_date", "end_reason", "ended_by_id", "created_at"),
        ],
        tagger.lines,
    )
    timer.lap(f"tag periods copied ({n:,})")
    counts["tag_periods"] = n
    return counts


def rng_day(rng, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange(max(1, (end - start).days)))


def personal_tags(tagger, rng, born, age, household_id, resident_id, by, until, all_old):
    r = rng.random

    def span(code, base: date, *, at_age: int = 0, ended_share: float = 0.0, dies=True):
        since = max(base, born + timedelta(days=int(at_age * 365.25)))
        tagger.span(code, household_id, resident_id, by, since=since, ended_share=ended_share,
                    until=until if dies else None)  # fmt: skip

    if age >= 18 and r() < (0.08 if age >= 40 else 0.04):
        span("party_member", date(1975, 1, 1), at_age=18)
    if r() < 0.045:
        span("disabled", date(2010, 1, 1), ended_share=0.05)
    if until is None:
        if age < 16 and r() < 0.08:
            span("left_behind_child", date(2016, 1, 1), ended_share=0.3)
        if age < 18 and r() < 0.001:
            span("orphan", date(2012, 1, 1))
        if 18 <= age and r() < 0.002:
            span("petitioner", date(2018, 1, 1), at_age=18, ended_share=0.5)
        if 25 <= age <= 60 and r() < 0.006:
            span("able_farmer", date(2012, 1, 1), at_age=25, ended_share=0.1)
    if age >= 60:
        if all_old and r() < 0.6:
            span("empty_nest", date(2015, 1, 1), at_age=60, ended_share=0.1)
        if r() < 0.006:
            span("wubao", date(2008, 1, 1), at_age=55)
        if r() < 0.004:
            span("tekun", date(2016, 1, 1), at_age=55)
        if r() < 0.01:
            span("retired_cadre", date(2000, 1, 1), at_age=55)


def household_tags(tagger, rng, household_id, by, children) -> None:
    r = rng.random
    # 建档立卡: ~8% enrolled in 2014-16, most left poverty by 2020 -> ~3% still carry it
    if r() < 0.08:
        start = rng_day(rng, date(2014, 3, 1), date(2016, 12, 31))
        if r() < 0.62:
            end = rng_day(rng, date(2017, 6, 1), date(2020, 12, 31))
            tagger.add("poverty_enrolled", household_id, None, start, by, end=end,
                       end_reason=END_REASONS["poverty_enrolled"])  # fmt: skip
        else:
            tagger.add("poverty_enrolled", household_id, None, start, by)
    if r() < 0.03:
        tagger.span("dibao", household_id, None, by, since=date(2012, 1, 1), ended_share=0.33)
    if children == 0 and r() < 0.003:
        tagger.span("shidu", household_id, None, by, since=date(2010, 1, 1))


# ------------------------------------------------------------------------- import file


def write_import_csv(path: Path, *, rows: int, seed: int) -> dict:
    """An import file in the importer's format on the city's grids; its 身份证号 come from
    another city's region codes and its 户编号 have a form the generator never uses."""
    from django.db import connection

    from minqing.registry.imports import TEMPLATE_HEADERS

    rng = random.Random(seed * 7919 + 17)
    with connection.cursor() as cursor:
        cursor.execute("SELECT code FROM areas_area WHERE level = 5 ORDER BY code")
        grids = [c for (c,) in cursor.fetchall()]
    if not grids:
        raise SystemExit("no grids: generate the city first")
    people = People(rng)
    relation_words = {
        "head": "户主",
        "spouse": "配偶",
        "child": "子女",
        "parent": "父母",
        "grandchild": "孙子女",
        "sibling": "兄弟姐妹",
        "child_in_law": "儿媳/女婿",
        "other": "其他",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    written = households = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(TEMPLATE_HEADERS)
        while written < rows:
            households += 1
            grid = grids[rng.randrange(len(grids))]
            number = f"{grid}-{households:06d}"
            address = f"新建小区{1 + households % 40}栋{households % 300}号"
            size = min(rows - written, rng.choices(range(1, 9), [13, 22, 20, 20, 13, 7, 3, 2])[0])
            family_phone = f"0746-{rng.randrange(10**7):07d}" if rng.random() < 0.2 else ""
            household_tag = "低保" if rng.random() < 0.03 else ""
            for i, (relation, age, male, surname) in enumerate(people.household(size)[:size]):
                birth = people.birth(age)
                region = IMPORT_REGIONS[households % len(IMPORT_REGIONS)]
                tags = [household_tag] if household_tag and i == 0 else []
                if age >= 18 and rng.random() < 0.07:
                    tags.append("党员")
                if rng.random() < 0.04:
                    tags.append("残疾")
                status = "迁出" if rng.random() < 0.03 else "在住"
                out.writerow(
                    [
                        grid,
                        number,
                        address,
                        surname + people.given(male),
                        people.id_number(region, birth, male),
                        relation_words[relation],
                        people.phone() if 16 <= age <= 75 and rng.random() < 0.8 else "",
                        status,
                        family_phone if i == 0 else "",
                        "",
                        "、".join(tags),
                    ]
                )
                written += 1
    return {"rows": written, "households": households}


# ------------------------------------------------------------------------- main


def main(argv=None) -> None:
    args = parse_args(argv)
    timer = Timer()
    print(f"database {args.database_url} seed {args.seed}")
    setup_django(args.database_url)
    timer.lap("database ready (created if missing, migrated)")
    from django.db import connection, transaction

    if not args.no_fill:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM areas_area)")
            filled = cursor.fetchone()[0]
        if filled and not args.truncate:
            raise SystemExit("the database already holds data: pass --truncate to refill it")
        rng = random.Random(args.seed)
        with transaction.atomic():
            if args.truncate:
                truncate_data()
                timer.lap("tables emptied")
            from minqing.registry.models import Tag

            tags = {
                code: (pk, scope == Tag.Scope.HOUSEHOLD)
                for pk, code, scope in Tag.objects.values_list("pk", "code", "scope")
            }
            city = City(rng, args)
            city.build()
            n_areas = city.write_areas()
            timer.lap(
                f"areas copied ({n_areas:,}: {len(city.townships)} townships, "
                f"{len(city.villages):,} villages, {len(city.grids):,} grids)"
            )
            staff = write_units_and_users(city)
            timer.lap(f"units and users copied ({staff['units']:,} / {staff['users']:,})")
            people = People(rng)
            tagger = Tagger(rng, tags)
            indexes = drop_secondary_indexes(BULK_TABLES)
            # The kept per-household tables' statement-level triggers would recount ~100k
            # households against index-less tables (each `= ANY(ids)` scan is linear in
            # the array: quadratic, 20+ min); they are rebuilt set-based once, below.
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE registry_tagperiod DISABLE TRIGGER USER")
            counts = fill_registry(city, people, tagger, staff["cadre_of_village"], args, timer)
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("ALTER TABLE registry_tagperiod ENABLE TRIGGER USER")
            timer.lap("foreign keys checked")
            build_indexes(indexes)
            timer.lap(f"{len(indexes)} secondary indexes built")
            from minqing.registry.summaries import summaries_rebuild

            summaries_rebuild()  # the COPY bypassed the models: count the grids once
            timer.lap("grid summaries built")
            from minqing.visits import household_due

            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT visits_householdtags_recount(ARRAY(SELECT DISTINCT household_id "
                    "FROM registry_tagperiod))"
                )
            timer.lap("household tag summaries built")
            household_due.rebuild()
            timer.lap("household due dates built")
            if args.audit_events:
                from bench_pages import fill_audit_cursor

                with connection.cursor() as cursor:
                    fill_audit_cursor(cursor, args.audit_events)
                timer.lap(f"audit log filled ({args.audit_events:,} events)")
            if args.appeals:
                from generate_appeals import fill_appeals

                done = fill_appeals(city, staff, args.appeals, args.seed)
                timer.lap(f"appeals copied ({done['appeals']:,}, {done['events']:,} events)")
            reset_sequences(
                [
                    *("areas_area", "accounts_unit", "accounts_user", "accounts_jurisdiction"),
                    *("registry_household", "registry_resident", "registry_tagperiod"),
                ]
            )
        timer.lap("committed")
        with connection.cursor() as cursor:
            # Settle the fresh rows like a live database's (hint bits, visibility map), so
            # the first benchmark does not pay for it.
            cursor.execute("VACUUM (ANALYZE)")
        timer.lap("vacuumed and analyzed")
        print(
            f"city: {len(city.areas):,} areas, {staff['users']:,} users, "
            f"{counts['households']:,} households, {counts['residents']:,} residents, "
            f"{counts['tag_periods']:,} tag periods"
        )
        print(f"generated in {timer.total():.1f} s")
        print(f"logins (password {PASSWORD}): admin, leader, supervisor,")
        print(
            f"  township-{city.townships[0][1][:9]}-1 (township staff of {city.townships[0][2]}),"
        )
        print(f"  cadre-{city.villages[0][1]} (village cadre of {city.villages[0][2]})")
    if args.import_csv:
        done = write_import_csv(args.import_csv, rows=args.import_residents, seed=args.seed)
        timer.lap(f"import file {args.import_csv} ({done['rows']:,} rows)")


if __name__ == "__main__":
    main()
