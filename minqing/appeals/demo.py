"""Demo matters in every state, filed and moved through the services (so every one has its
events), some overdue, one escalated to the township, one dispute, one claimed by the
leader. Idempotent: nothing is added when appeals already exist."""

from datetime import timedelta

from django.utils import timezone

from minqing.accounts.models import Unit, User
from minqing.areas.models import Area, Level
from minqing.core import clock

from . import services as s
from .models import Appeal, Category

VILLAGE = "430372100202"  # 七星村

MATTERS = [
    # (category, text, target state, days ago)
    ("road", "三组到村部那段路坑坑洼洼,一下雨就冇得法走,摩托车都摔了好几回。", "accepted", 1),
    ("streetlight", "村口桥头的路灯坏了一个多月,晚上黑漆漆的,老人家不敢出门。", "accepted", 9),
    ("water", "我屋里自来水这几天浑得很,烧开了还有沉淀,么子原因?", "claimed", 2),
    ("assistance", "我娘一个人住,身体不好,想问下低宝能不能申请,要么子材料。", "in_progress", 4),
    ("sanitation", "河边有人倒垃圾,臭得要死,夏天蚊子多得很。", "resolved", 6),
    ("power", "四组电压低,晚上电饭煲都煮不熟饭。", "revisited", 15),
    ("medical", "去年住院的报销到现在还没到账,反应了几次都没人管。", "archived", 30),
    ("housing", "老屋后墙裂了条大缝,下大雨怕垮,想申请危房改造。", "assigned", 3),
    ("wages", "在镇上工地做了三个月,包工头拖欠工钱不给。", "escalated", 12),
    ("education", "孙子读初中的雨露计划补助今年还冇发。", "claimed_by_leader", 5),
]


def _user(name):
    return User.objects.filter(username=name).first()


def build(*, stdout) -> None:
    from .seeds import ensure_seeds

    ensure_seeds()  # a flushed test database has lost the migrations' rows
    if Appeal.objects.exists():
        return
    village = Area.objects.filter(code=VILLAGE).first()
    if village is None:
        return
    grid = Area.objects.filter(parent=village, level=Level.GRID).order_by("code").first()
    cadre, township, leader, dept = (_user(n) for n in ("cadre", "township", "leader", "dept"))
    if not all((cadre, township, leader)):
        return
    now = timezone.now()
    for code, text, target, days in MATTERS:
        with clock.frozen(now - timedelta(days=days)):
            appeal, _code = s.appeal_file(
                actor=cadre,
                channel="visit" if days % 2 else "walk_in",
                category_id=Category.objects.get(code=code).pk,
                area_id=(grid or village).pk,
                content=text,
                contact_name="村民",
                contact_phone="13800000000",
            )
        _drive(appeal, target, cadre=cadre, township=township, leader=leader, dept=dept, now=now)
    # a dispute at the village
    s.appeal_file(
        actor=cadre,
        channel="walk_in",
        kind="dispute",
        category_id=Category.objects.get(code="neighbour").pk,
        area_id=village.pk,
        content="刘家和彭家为屋檐滴水吵了几回,差点动手。",
        parties="刘某某、彭某某",
    )
    stdout.write(f"诉求: {Appeal.objects.count()} 件(各状态都有)")


def _drive(appeal, target, *, cadre, township, leader, dept, now):
    if target == "accepted":
        return
    if target == "escalated":
        s.appeal_escalate(actor=cadre, appeal=appeal, reason="涉及工程款,村里解决不了")
        return
    if target == "claimed_by_leader":
        s.appeal_claim(actor=leader, appeal=appeal, comment="我来包案")
        return
    if target == "assigned":
        s.appeal_escalate(actor=cadre, appeal=appeal, reason="需乡镇协调危房改造")
        unit = Unit.objects.filter(name="昭山镇民政所").first() or Unit.objects.first()
        s.appeal_assign(actor=township, appeal=appeal, unit_id=unit.pk, comment="请核实")
        return
    s.appeal_claim(actor=cadre, appeal=appeal)
    if target == "claimed":
        return
    s.appeal_start(actor=cadre, appeal=appeal)
    if target == "in_progress":
        s.appeal_reply(
            actor=cadre, appeal=appeal, text="已上门了解情况,正在准备材料。", is_public=True
        )
        return
    s.appeal_resolve(
        actor=cadre, appeal=appeal, result="已处理", public_reply="已经处理好了,请您评价。"
    )
    if target == "resolved":
        return
    s.appeal_rate(actor=None, appeal=appeal, rating="satisfied", channel="web")
    if target == "revisited":
        return
    s.appeal_archive(actor=cadre, appeal=appeal)
