"""Demo units and one login per role, in the demo area."""

from minqing.areas.models import Area
from minqing.core.roles import Role

from .demo_users import DEMO_PASSWORD, system_admin
from .models import Jurisdiction, Unit, UnitKind, User
from .services import unit_create, user_create

UNITS = [
    ("昭山示范区社会事业部", UnitKind.COUNTY_DEPARTMENT, "430372000000"),
    ("昭山示范区督查室", UnitKind.SUPERVISION_OFFICE, "430372000000"),
    ("昭山示范区政法委", UnitKind.POLITICAL_LEGAL, "430372000000"),
    ("昭山镇人民政府", UnitKind.TOWNSHIP_GOVERNMENT, "430372100000"),
    ("昭山镇派出所", UnitKind.POLICE_STATION, "430372100000"),
    ("昭山镇民政所", UnitKind.CIVIL_AFFAIRS, "430372100000"),
    ("七星村村民委员会", UnitKind.VILLAGE_COMMITTEE, "430372100202"),
]

# username, name, role, unit, area code
USERS = [
    ("grid", "李网格", Role.GRID_WORKER, "七星村村民委员会", "430372100202001"),
    ("cadre", "王村官", Role.VILLAGE_CADRE, "七星村村民委员会", "430372100202"),
    ("township", "赵乡镇", Role.TOWNSHIP_STAFF, "昭山镇人民政府", "430372100000"),
    ("dept", "孙部门", Role.DEPARTMENT_STAFF, "昭山示范区社会事业部", "430372000000"),
    ("leader", "成领导", Role.LEADER, None, "430372000000"),
    ("supervisor", "周督查", Role.SUPERVISOR, "昭山示范区督查室", "430372000000"),
    ("zhengfa", "郑政法", Role.POLITICAL_LEGAL, "昭山示范区政法委", "430372000000"),
]


def build(*, stdout) -> None:
    admin = system_admin()
    if not admin.jurisdictions.exists():
        root = Area.objects.get(code="430300000000")
        Jurisdiction.objects.create(user=admin, area=root)
    units = {}
    for name, kind, code in UNITS:
        area = Area.objects.get(code=code)
        units[name] = Unit.objects.filter(area=area, name=name).first() or unit_create(
            actor=admin, name=name, kind=kind, area=area
        )
    for username, full_name, role, unit, code in USERS:
        if User.objects.filter(username=username).exists():
            continue
        user_create(
            actor=admin,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            full_name=full_name,
            unit=units.get(unit),
            areas=[Area.objects.get(code=code)],
            check_password=False,
            must_change_password=False,  # demo logins work as printed
        )
    stdout.write(f"演示账号 (密码均为 {DEMO_PASSWORD}):")
    for user in User.objects.filter(username__in=["admin", *[u[0] for u in USERS]]).order_by("id"):
        areas = "、".join(j.area.name for j in user.jurisdictions.select_related("area"))
        stdout.write(f"  {user.username:<11} {user.get_role_display():<8} {user}  管辖: {areas}")
