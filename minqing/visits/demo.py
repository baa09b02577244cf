"""Demo visits for the demo area: two months of visits by the grid workers and cadres, the
must-visit households mostly on time and a few overdue, a few visits that raised needs,
a dispute and a follow-up (through the service, so they become appeals). Fixed seed,
bulk inserts; idempotent."""

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from minqing.accounts.models import User
from minqing.areas.models import Area, Level
from minqing.registry.models import Household, TagPeriod

from .models import LastVisit, Visit
from .services import visit_record

COUNTY_CODE = "430372000000"
SEED = 20241126
SITUATIONS = [
    "老人身体尚好,按时服药,家中整洁。",
    "户主外出务工,与留守老人交谈,生活基本正常。",
    "了解今年种植情况,油菜长势良好,无困难反映。",
    "宣传医保缴费政策,已告知缴费时间和渠道。",
    "核实家庭人口变动情况,与台账一致。",
    "孩子在镇中心小学读书,成绩中等,由祖母照看。",
    "宣传防诈骗知识,发放宣传资料一份。",
    "房屋有轻微漏雨,已提醒雨季注意安全。",
    "了解低保政策落实情况,本月补助已到账。",
    "检查用电安全,电线老化,建议更换。",
]


def _at(day, rng):
    return timezone.make_aware(datetime.combine(day, time(rng.randint(8, 18), rng.randint(0, 59))))


def build(*, stdout) -> None:
    county = Area.objects.filter(code=COUNTY_CODE).first()
    if county is None:
        stdout.write("走访: 没有演示区域,跳过")
        return
    households = list(
        Household.objects.filter(grid__path__startswith=county.path)
        .select_related("grid", "grid__parent")
        .order_by("grid__path", "number")
    )
    if not households or Visit.objects.filter(grid__path__startswith=county.path).exists():
        stdout.write(f"走访: 已有 {Visit.objects.count()} 条走访记录")
        return
    users = {u.username: u for u in User.objects.filter(username__in=["grid", "cadre", "township"])}
    if len(users) < 3:
        stdout.write("走访: 缺少演示账号,跳过")
        return
    qixing1 = Area.objects.filter(level=Level.GRID, code="430372100202001").first()

    def visitor(h):
        if qixing1 is not None and h.grid_id == qixing1.pk:
            return users["grid"]
        if h.grid.parent.code == "430372100202":
            return users["cadre"]
        return users["township"]

    tagged = set(
        TagPeriod.objects.filter(household__in=households, end_date__isnull=True).values_list(
            "household_id", flat=True
        )
    )
    rng = random.Random(SEED)
    today = timezone.localdate()
    visits = []
    for h in households:
        if h.pk in tagged:
            # the must-visit households: most seen in the last four weeks, some overdue
            days = [rng.randint(1, 26)] if rng.random() < 0.85 else [rng.randint(35, 60)]
            if rng.random() < 0.5:
                days.append(days[0] + rng.randint(14, 30))
        else:
            days = [rng.randint(1, 60) for _ in range(rng.choice([0, 1, 1, 2]))]
        for back in days:
            visits.append(
                Visit(
                    household=h,
                    grid_id=h.grid_id,
                    visited_at=_at(today - timedelta(days=back), rng),
                    place=rng.choice(["家中", "家中", "田间", "村委会"]),
                    situation=rng.choice(SITUATIONS),
                    recorded_by=visitor(h),
                )
            )
    Visit.objects.bulk_create(visits, batch_size=1000)
    if visits and visits[0].pk is None:
        visits = list(Visit.objects.filter(grid__path__startswith=county.path))
    Through = Visit.visitors.through
    Through.objects.bulk_create(
        [Through(visit_id=v.pk, user_id=v.recorded_by_id) for v in visits], batch_size=2000
    )
    latest = {}
    for v in visits:
        if v.household_id not in latest or v.visited_at > latest[v.household_id]:
            latest[v.household_id] = v.visited_at
    LastVisit.objects.bulk_create(
        [LastVisit(household_id=k, visited_at=t) for k, t in latest.items()], batch_size=2000
    )

    # A few visits of today through the service: needs and a dispute become appeals.
    grid_households = [h for h in households if qixing1 is not None and h.grid_id == qixing1.pk]
    raised = 0
    for h, finding in zip(
        grid_households[:3],
        [
            {"needs": ["房屋漏雨,申请危房改造"]},
            {"disputes": ["与邻居因宅基地边界发生争执"]},
            {"follow_up_date": today + timedelta(days=3)},
        ],
        strict=False,
    ):
        visit_record(
            actor=users["grid"],
            household=h,
            situation="走访中了解到的情况,已记录并跟进。",
            visited_at=timezone.now() - timedelta(hours=2),
            place="家中",
            **finding,
        )
        raised += 1
    answered = _survey(users["township"], households, rng)
    paired = _pairings(users, grid_households)
    stdout.write(
        f"走访: {len(visits) + raised} 条走访记录({raised} 条带走访发现), 问卷 1 份, "
        f"答卷 {answered} 份, 结对 {paired} 户"
    )


def _pairings(users, grid_households) -> int:
    """结对帮扶: the village cadre paired with a few households of 七星村第一网格."""
    from .services import pairing_create

    start = timezone.localdate() - timedelta(days=90)
    for h in grid_households[3:7]:
        pairing_create(actor=users["township"], cadre=users["cadre"], household=h, start_date=start)
    return len(grid_households[3:7])


SURVEY_LINES = """满意度|您对村干部上门走访的情况满意吗?
满意度|您对反映问题的办理结果满意吗?
单选|近一年有干部到您家走访吗?|有,多次;有,一次;没有
多选|您最希望村里办好哪些事?|道路;路灯;饮水;医疗;养老;环境卫生
文字|您还有什么意见和建议?"""


def _survey(township_user, households, rng) -> int:
    """One township questionnaire, answered by about one household in six during visits."""
    from .models import Survey
    from .services import survey_answer, survey_create

    town = Area.objects.filter(code="430372100000").first()
    if town is None or Survey.objects.filter(area=town).exists():
        return 0
    survey = survey_create(
        actor=township_user,
        area=town,
        title="2025 年群众满意度调查",
        description="请如实填写,每户一份。",
        questions=SURVEY_LINES,
    )
    q = list(survey.questions.all())
    n = 0
    for h in households:
        if not h.grid.path.startswith(town.path) or rng.random() > 0.17:
            continue
        answers = {
            str(q[0].pk): rng.choice([5, 5, 4, 4, 4, 3, 2]),
            str(q[1].pk): rng.choice([5, 4, 4, 3, 3, 2]),
            str(q[2].pk): rng.choice([0, 0, 1, 2]),
            str(q[3].pk): rng.sample(range(6), rng.randint(1, 3)),
        }
        if rng.random() < 0.2:
            answers[str(q[4].pk)] = rng.choice(
                ["希望多修几盏路灯", "卫生院看病方便多了", "谢谢干部"]
            )
        survey_answer(actor=township_user, survey=survey, household=h, answers=answers)
        n += 1
    return n
