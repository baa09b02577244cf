"""Demo registry for the demo area: ~500 households, ~1,600 residents with valid 身份证号,
relations, phones, key-group tags with their history, moves, places and organisations.

Built with bulk_create from a fixed random seed, so it is the same every time and takes a
second or two. Idempotent: if the demo grids already hold households nothing is added.
"""

import random
from datetime import date, timedelta

from django.utils import timezone

from minqing.accounts.demo_users import system_admin
from minqing.accounts.models import User
from minqing.areas.models import Area, Level
from minqing.core.audit import audit_record
from minqing.core.idcard import make_id_number

from .models import (
    Household,
    Move,
    Organisation,
    Place,
    Relation,
    Resident,
    ResidentStatus,
    Tag,
    TagPeriod,
)
from .services import resident_fill_keys

COUNTY_CODE = "430372000000"
ZHAOSHAN_TOWN = "430372100000"
HOUSEHOLDS_PER_GRID = 17
SEED = 20241125

SURNAMES = (
    "刘李王张陈彭周谭易罗唐黄胡曾邓杨赵毛贺朱龙文肖许郭蒋雷廖颜袁"
    "刘李王张陈彭周谭易罗唐黄胡"  # the common ones twice
)
COMPOUND_SURNAMES = ["欧阳", "司马"]
MALE_CHARS = "伟强军勇杰涛斌明华建国平志刚德书海林波辉鹏超宇浩俊峰文武春生福贵长根"
FEMALE_CHARS = "芳秀英娟敏静丽霞燕玲红梅兰桂香萍珍凤琴云华淑娥美翠莲"
CHILD_CHARS = "子涵梓轩一诺欣怡雨桐浩然思远佳琪俊熙若曦宇航诗琪梓萱晨阳"
REGIONS = ["430321", "430321", "430321", "430302", "430304", "430381", "430382", "431121"]
MOBILE_PREFIXES = [
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "177",
    "180",
    "186",
    "187",
    "189",
]

POVERTY_REASONS = ["因病致贫", "因学致贫", "缺劳动力", "因残致贫", "缺技术", "缺资金"]
DIBAO_REASONS = ["家庭人均收入低于低保标准", "重病导致家庭困难", "主要劳动力残疾"]
DISABILITY = ["肢体残疾二级", "视力残疾一级", "智力残疾三级", "听力残疾二级", "肢体残疾四级"]
PETITION = ["土地确权纠纷", "宅基地边界纠纷", "征地补偿诉求", "邻里用水纠纷"]
ABLE = ["蔬菜种植大户", "生猪养殖大户", "开办农家乐", "电商带货", "湘莲种植带头人"]


class _Builder:
    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        self.ids: set[str] = set(Resident.objects.values_list("id_number", flat=True))
        self.phones: set[str] = set()

    # -------------------------------------------------------- people

    def surname(self) -> str:
        if self.rng.random() < 0.02:
            return self.rng.choice(COMPOUND_SURNAMES)
        return self.rng.choice(SURNAMES)

    def given(self, gender: str, child: bool = False) -> str:
        if child and self.rng.random() < 0.6:
            start = self.rng.randrange(0, len(CHILD_CHARS) - 1, 2)
            return CHILD_CHARS[start : start + 2]
        chars = MALE_CHARS if gender == "M" else FEMALE_CHARS
        n = 1 if self.rng.random() < 0.3 else 2
        return "".join(self.rng.choice(chars) for _ in range(n))

    def birth(self, age: int) -> date:
        year = self.today.year - age
        day = date(year, 1, 1) + timedelta(days=self.rng.randrange(0, 365))
        return min(day, self.today - timedelta(days=age * 365 + 1))

    def id_number(self, birth: date, gender: str) -> str:
        region = self.rng.choice(REGIONS)
        for _attempt in range(2000):
            order = self.rng.randrange(0, 999)
            if (order % 2 == 1) != (gender == "M"):
                order += 1 if order < 999 else -1
            number = make_id_number(region, birth, order)
            if number not in self.ids:
                self.ids.add(number)
                return number
        raise RuntimeError("ran out of id numbers")

    def phone(self, age: int) -> str:
        if age < 16 or age > 78 or self.rng.random() < 0.25:
            return ""
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def person(self, *, surname, gender, age, relation, child=False, name=None) -> dict:
        birth = self.birth(age)
        return {
            "name": name or surname + self.given(gender, child),
            "gender": gender,
            "age": age,
            "birth": birth,
            "relation": relation,
            "id_number": self.id_number(birth, gender),
            "phone": self.phone(age),
        }

    # -------------------------------------------------------- households

    def family(self, *, surname=None, kind=None) -> tuple[str, list[dict]]:
        """A household shape drawn from the mix a Hunan village has."""
        rng = self.rng
        kind = (
            kind
            or rng.choices(
                [
                    "elderly_couple",
                    "elderly_alone",
                    "nuclear",
                    "left_behind",
                    "three_gen",
                    "single",
                ],
                weights=[18, 10, 33, 12, 17, 10],
            )[0]
        )
        sur = surname or self.surname()
        other = self.surname
        people: list[dict] = []
        if kind in ("elderly_couple", "elderly_alone"):
            age = rng.randint(62, 86)
            gender = "M" if kind == "elderly_couple" or rng.random() < 0.4 else "F"
            people.append(self.person(surname=sur, gender=gender, age=age, relation=Relation.HEAD))
            if kind == "elderly_couple":
                people.append(
                    self.person(
                        surname=other(),
                        gender="F",
                        age=max(60, age - rng.randint(0, 5)),
                        relation=Relation.SPOUSE,
                    )
                )
        elif kind == "single":
            age = rng.randint(24, 60)
            gender = "M" if rng.random() < 0.7 else "F"
            people.append(self.person(surname=sur, gender=gender, age=age, relation=Relation.HEAD))
        elif kind == "nuclear":
            age = rng.randint(30, 56)
            people.append(self.person(surname=sur, gender="M", age=age, relation=Relation.HEAD))
            people.append(
                self.person(
                    surname=other(),
                    gender="F",
                    age=age - rng.randint(0, 4),
                    relation=Relation.SPOUSE,
                )
            )
            for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
                g = rng.choice("MF")
                people.append(
                    self.person(
                        surname=sur,
                        gender=g,
                        age=max(0, age - rng.randint(23, 32)),
                        relation=Relation.CHILD,
                        child=True,
                    )
                )
        else:  # left_behind, three_gen: grandparents, a son's family, grandchildren
            age = rng.randint(55, 74)
            people.append(self.person(surname=sur, gender="M", age=age, relation=Relation.HEAD))
            people.append(
                self.person(
                    surname=other(),
                    gender="F",
                    age=age - rng.randint(0, 4),
                    relation=Relation.SPOUSE,
                )
            )
            son_age = age - rng.randint(24, 30)
            people.append(
                self.person(surname=sur, gender="M", age=son_age, relation=Relation.CHILD)
            )
            if kind == "three_gen" or rng.random() < 0.5:
                people.append(
                    self.person(
                        surname=other(),
                        gender="F",
                        age=son_age - rng.randint(0, 3),
                        relation=Relation.CHILD_IN_LAW,
                    )
                )
            for _ in range(rng.choice([1, 1, 2])):
                people.append(
                    self.person(
                        surname=sur,
                        gender=rng.choice("MF"),
                        age=rng.randint(3, 14),
                        relation=Relation.GRANDCHILD,
                        child=True,
                    )
                )
        return kind, people


def _address(rng, grid: Area, village: Area, township: Area, n: int) -> str:
    if village.name.endswith("社区"):
        street = rng.choice(["建设路", "红旗路", "沿江路", "昭山大道", "易家湾老街"])
        return f"湖南省湘潭市{township.name}{village.name}{street}{rng.randint(1, 300)}号"
    group = (int(grid.code[-3:]) - 1) * 4 + rng.randint(1, 4)
    return f"湖南省湘潭市{township.name}{village.name}{group}组{n}号"


def _start(rng, earliest: date, latest: date) -> date:
    if latest <= earliest:
        return latest
    return earliest + timedelta(days=rng.randrange((latest - earliest).days))


def _close(periods: list, resident, day: date, reason: str, actor) -> None:
    """Someone died or left on `day`: end their open tags then; drop any not yet begun."""
    periods[:] = [p for p in periods if not (p.resident is resident and p.start_date > day)]
    for p in periods:
        if p.resident is resident:
            if p.end_date is None or p.end_date > day:
                p.end_date, p.end_reason, p.ended_by = day, reason, actor


def build(*, stdout) -> None:
    county = Area.objects.filter(code=COUNTY_CODE).first()
    if county is None:
        stdout.write("户籍台账: 没有演示区域,跳过")
        return
    grids = list(
        Area.objects.filter(level=Level.GRID, path__startswith=county.path)
        .select_related("parent", "parent__parent")
        .order_by("path")
    )
    if Household.objects.filter(grid__in=grids).exists():
        _summary(stdout, county, already=True)
        return
    admin = system_admin()
    cadres = {u.username: u for u in User.objects.filter(username__in=["cadre", "township"])}

    def actor_for(grid):
        """Who gave the demo tags: the 七星村 cadre there, the township user elsewhere."""
        user = cadres.get("cadre") if grid.parent.code == "430372100202" else None
        return user or cadres.get("township") or admin

    today = timezone.localdate()
    rng = random.Random(SEED)
    b = _Builder(rng, today)
    tags = {t.code: t for t in Tag.objects.all()}

    # 1. households and people ----------------------------------------------------
    households, families = [], []
    for grid in grids:
        village, township = grid.parent, grid.parent.parent
        for n in range(1, HOUSEHOLDS_PER_GRID + 1):
            if grid.code == "430372100202001" and n == 1:
                # The issue's own example for search: 张德书 ← "zhangdeshu" / "zds".
                kind, people = b.family(surname="张", kind="left_behind")
                people[0]["name"] = "张德书"
            else:
                kind, people = b.family()
            households.append(
                Household(
                    grid=grid,
                    number=f"{grid.code}{n:04d}",
                    address=_address(rng, grid, village, township, n),
                    phone=people[0]["phone"] or "",
                )
            )
            families.append((kind, people, grid))
    Household.objects.bulk_create(households, batch_size=1000)
    if households[0].pk is None:  # backends without RETURNING
        households = list(Household.objects.filter(grid__in=grids).order_by("grid__path", "number"))

    residents = []
    for household, (_kind, people, _grid) in zip(households, families, strict=True):
        for p in people:
            r = Resident(
                household=household,
                name=p["name"],
                id_number=p["id_number"],
                phone=p["phone"],
                relation=p["relation"],
                status=ResidentStatus.LIVING,
            )
            resident_fill_keys(r)
            residents.append(r)
            p["resident"] = r
    Resident.objects.bulk_create(residents, batch_size=1000)
    if residents[0].pk is None:
        by_id = dict(Resident.objects.values_list("id_number", "pk"))
        for r in residents:
            r.pk = r.id = by_id[r.id_number]
    for household, (_kind, people, _grid) in zip(households, families, strict=True):
        household.head = people[0]["resident"]
    Household.objects.bulk_update(households, ["head"], batch_size=1000)

    # 2. key groups with history, and moves ---------------------------------------
    periods: list[TagPeriod] = []
    moves: list[Move] = []
    status_updates: list[Resident] = []

    def give(tag_code, household, resident=None, *, start, reason, end=None, end_reason="", actor):
        periods.append(
            TagPeriod(
                tag=tags[tag_code],
                household=household,
                resident=resident,
                start_date=start,
                start_reason=reason,
                started_by=actor,
                end_date=end,
                end_reason=end_reason if end else "",
                ended_by=actor if end else None,
            )
        )

    orphans = [0]

    def years_ago(n: float) -> date:
        return today - timedelta(days=int(n * 365))

    for household, (kind, people, grid) in zip(households, families, strict=True):
        actor = actor_for(grid)
        in_zhaoshan = grid.path.startswith(county.path) and ZHAOSHAN_TOWN in grid.path
        poor = False
        # 建档立卡贫困户: 昭山镇 (the seeds: 708 households); since 精准识别 in 2014-2016.
        if in_zhaoshan and rng.random() < 0.13:
            poor = True
            start = _start(rng, date(2014, 4, 1), date(2016, 10, 1))
            reason = rng.choice(POVERTY_REASONS)
            if rng.random() < 0.4:
                end = _start(rng, date(2018, 12, 1), date(2020, 12, 1))
                give(
                    "poverty_enrolled",
                    household,
                    start=start,
                    reason=reason,
                    end=end,
                    end_reason="稳定脱贫,退出",
                    actor=actor,
                )
            else:
                give("poverty_enrolled", household, start=start, reason=reason, actor=actor)
        # 低保: with some exits and one re-entry each few villages.
        if (poor and rng.random() < 0.35) or rng.random() < 0.05:
            start = _start(rng, date(2017, 1, 1), years_ago(1))
            if rng.random() < 0.3:
                end = _start(rng, start + timedelta(days=180), today - timedelta(days=30))
                give(
                    "dibao",
                    household,
                    start=start,
                    reason=rng.choice(DIBAO_REASONS),
                    end=end,
                    end_reason="家庭收入超过低保标准",
                    actor=actor,
                )
                if rng.random() < 0.3 and end < today - timedelta(days=60):
                    give(
                        "dibao",
                        household,
                        start=_start(rng, end + timedelta(days=1), today),
                        reason="因病返贫,重新纳入",
                        actor=actor,
                    )
            else:
                give("dibao", household, start=start, reason=rng.choice(DIBAO_REASONS), actor=actor)
        for p in people:
            r, age = p["resident"], p["age"]
            # 空巢老人: elderly households without younger members.
            if kind in ("elderly_couple", "elderly_alone") and age >= 60:
                give(
                    "empty_nest",
                    household,
                    r,
                    start=_start(rng, years_ago(6), years_ago(0.5)),
                    reason="子女在外地工作",
                    actor=actor,
                )
            # 留守儿童: grandchildren whose parents work away.
            if kind == "left_behind" and p["relation"] == Relation.GRANDCHILD and age < 16:
                start = _start(rng, years_ago(min(age, 5)), years_ago(0.2))
                if orphans[0] < 2 and rng.random() < 0.12:
                    orphans[0] += 1
                    give(
                        "orphan",
                        household,
                        r,
                        start=start,
                        reason="父母双亡,由祖父母抚养",
                        actor=actor,
                    )
                elif rng.random() < 0.15:
                    give(
                        "left_behind_child",
                        household,
                        r,
                        start=start,
                        reason="父母在广东务工",
                        end=_start(rng, start, today),
                        end_reason="父母返乡就业",
                        actor=actor,
                    )
                else:
                    give(
                        "left_behind_child",
                        household,
                        r,
                        start=start,
                        reason=rng.choice(["父母在广东务工", "父母在长沙务工"]),
                        actor=actor,
                    )
            if age >= 16 and rng.random() < 0.025:
                give(
                    "disabled",
                    household,
                    r,
                    start=_start(rng, years_ago(12), years_ago(0.3)),
                    reason=rng.choice(DISABILITY),
                    actor=actor,
                )
            if age >= 25 and rng.random() < 0.07:
                joined = max(p["birth"] + timedelta(days=365 * 24), date(1960, 1, 1))
                give(
                    "party_member",
                    household,
                    r,
                    start=min(joined, years_ago(0.5)),
                    reason="入党转正",
                    actor=actor,
                )
            if 30 <= age <= 58 and rng.random() < 0.012:
                give(
                    "able_farmer",
                    household,
                    r,
                    start=_start(rng, years_ago(5), years_ago(0.5)),
                    reason=rng.choice(ABLE),
                    actor=actor,
                )
            if age >= 66 and rng.random() < 0.02:
                give(
                    "retired_cadre",
                    household,
                    r,
                    start=_start(rng, years_ago(8), years_ago(1)),
                    reason="原村支部书记,退休",
                    actor=actor,
                )
            if kind == "elderly_alone" and age >= 70 and rng.random() < 0.3:
                code = "wubao" if rng.random() < 0.6 else "tekun"
                give(
                    code,
                    household,
                    r,
                    start=_start(rng, years_ago(10), years_ago(1)),
                    reason="无劳动能力、无生活来源、无法定赡养人",
                    actor=actor,
                )
            if 18 <= age <= 70 and rng.random() < 0.006:
                start = _start(rng, years_ago(2), years_ago(0.1))
                if rng.random() < 0.4:
                    give(
                        "petitioner",
                        household,
                        r,
                        start=start,
                        reason=rng.choice(PETITION),
                        end=_start(rng, start, today),
                        end_reason="诉求已解决,群众满意",
                        actor=actor,
                    )
                else:
                    give(
                        "petitioner",
                        household,
                        r,
                        start=start,
                        reason=rng.choice(PETITION),
                        actor=actor,
                    )
        # 失独: a few elderly couples.
        if kind == "elderly_couple" and rng.random() < 0.04:
            give(
                "shidu",
                household,
                start=_start(rng, years_ago(15), years_ago(2)),
                reason="独生子女病故",
                actor=actor,
            )
        # Moves that already happened: the elderly who died, young people who left,
        # wives who married in.
        if kind in ("elderly_couple", "three_gen") and rng.random() < 0.08 and len(people) > 1:
            p = people[1]
            r = p["resident"]
            day = _start(rng, years_ago(3), today - timedelta(days=10))
            r.status, r.status_date = ResidentStatus.DECEASED, day
            status_updates.append(r)
            moves.append(
                Move(
                    resident=r,
                    kind=Move.Kind.DEATH,
                    from_household=household,
                    date=day,
                    reason="病故",
                    actor=actor,
                )
            )
            _close(periods, r, day, "死亡", actor)
        elif kind in ("nuclear", "three_gen", "left_behind") and rng.random() < 0.1:
            adults = [p for p in people[1:] if p["age"] >= 18 and p["relation"] == Relation.CHILD]
            if adults:
                p = adults[0]
                r = p["resident"]
                day = _start(rng, years_ago(4), today - timedelta(days=10))
                r.status, r.status_date = ResidentStatus.MOVED_OUT, day
                status_updates.append(r)
                moves.append(
                    Move(
                        resident=r,
                        kind=Move.Kind.MOVE_OUT,
                        from_household=household,
                        date=day,
                        reason=rng.choice(["外出落户长沙", "婚出", "参军入伍"]),
                        actor=actor,
                    )
                )
                _close(periods, r, day, "迁出", actor)
        for p in people:
            if p["relation"] in (Relation.CHILD_IN_LAW,) and rng.random() < 0.5:
                r = p["resident"]
                day = _start(rng, years_ago(8), years_ago(0.5))
                moves.append(
                    Move(
                        resident=r,
                        kind=Move.Kind.MOVE_IN,
                        to_household=household,
                        date=day,
                        reason="婚入",
                        actor=actor,
                    )
                )
                r.status_date = day
                status_updates.append(r)
    # No period may end before it started (dates drawn independently above).
    for period in periods:
        if period.end_date is not None and period.end_date < period.start_date:
            period.end_date = period.start_date
    TagPeriod.objects.bulk_create(periods, batch_size=2000)
    Move.objects.bulk_create(moves, batch_size=1000)
    Resident.objects.bulk_update(status_updates, ["status", "status_date"], batch_size=1000)
    # bulk writes bypass the models' saves: count the kept grid summaries once
    from .summaries import summaries_refresh

    summaries_refresh(grid_ids=[g.pk for g in grids])

    # 3. places and organisations ------------------------------------------------
    places, orgs = [], []
    villages = {g.parent_id: g.parent for g in grids}
    first_grid = {}
    for g in grids:
        first_grid.setdefault(g.parent_id, g)
    for village_id, village in villages.items():
        grid = first_grid[village_id]
        base = village.name.removesuffix("村").removesuffix("社区")
        places += [
            Place(
                grid=grid,
                name=f"{base}便民超市",
                kind=Place.Kind.SHOP,
                address=f"{village.name}村部旁",
                contact_name=b.surname() + "老板",
                contact_phone=b.phone(40),
            ),
            Place(
                grid=grid,
                name=f"{village.name}文化广场",
                kind=Place.Kind.PUBLIC,
                address=f"{village.name}村部",
            ),
        ]
        if rng.random() < 0.6:
            places.append(
                Place(
                    grid=grid,
                    name=f"{base}山塘",
                    kind=Place.Kind.DANGER,
                    address=f"{village.name}后山",
                    notes="汛期每日巡查,设有警示牌",
                )
            )
        if rng.random() < 0.5:
            places.append(
                Place(
                    grid=grid,
                    name=f"{base}出租屋({rng.randint(3, 12)}户)",
                    kind=Place.Kind.RENTAL,
                    address=f"{village.name}{rng.randint(1, 9)}组",
                    contact_name=b.surname() + "房东",
                    contact_phone=b.phone(50),
                )
            )
        orgs.append(
            Organisation(
                grid=grid,
                name=f"湘潭市{base}种养专业合作社",
                kind=Organisation.Kind.COOPERATIVE,
                credit_code=f"93430300MA{rng.randrange(10**7):07d}X"[:18],
                address=f"{village.name}",
                contact_name=b.surname() + "社长",
                has_party_branch=rng.random() < 0.3,
            )
        )
        if rng.random() < 0.5:
            orgs.append(
                Organisation(
                    grid=grid,
                    name=f"湘潭{base}农业发展有限公司",
                    kind=Organisation.Kind.ENTERPRISE,
                    credit_code=f"91430300MA{rng.randrange(10**7):07d}Y"[:18],
                    address=f"{village.name}工业小区",
                    has_party_branch=rng.random() < 0.5,
                )
            )
    town_grid = next(g for g in grids if ZHAOSHAN_TOWN[:9] in g.code)
    places.append(
        Place(grid=town_grid, name="昭山镇农贸市场", kind=Place.Kind.MARKET, address="昭山镇集镇")
    )
    places.append(
        Place(grid=town_grid, name="昭山镇中心小学", kind=Place.Kind.SCHOOL, address="昭山镇集镇")
    )
    orgs.append(
        Organisation(
            grid=town_grid,
            name="昭山镇志愿者协会",
            kind=Organisation.Kind.SOCIAL,
            address="昭山镇集镇",
            has_party_branch=True,
        )
    )
    Place.objects.bulk_create(places)
    Organisation.objects.bulk_create(orgs)

    audit_record(
        actor=admin,
        action="registry.demo",
        obj=county,
        detail={"households": len(households), "residents": len(residents)},
    )
    _summary(stdout, county, already=False)


def _summary(stdout, county, *, already: bool) -> None:
    households = Household.objects.filter(grid__path__startswith=county.path).count()
    residents = Resident.objects.filter(household__grid__path__startswith=county.path).count()
    current = TagPeriod.objects.filter(
        household__grid__path__startswith=county.path, end_date__isnull=True
    ).count()
    places = Place.objects.filter(grid__path__startswith=county.path).count()
    orgs = Organisation.objects.filter(grid__path__startswith=county.path).count()
    note = "(已存在,未重复生成)" if already else ""
    stdout.write(
        f"户籍台账{note}: {households} 户, {residents} 人, 重点人群在册 {current} 条, "
        f"场所 {places} 处, 组织 {orgs} 个"
    )
