"""Demo: the political-legal officer `zhengfa` and the custodian `custodian`, both with a
TOTP second factor from a fixed, documented secret (README), and a few tips."""

import base64

from django_otp.plugins.otp_totp.models import TOTPDevice

from minqing.accounts.demo_users import DEMO_PASSWORD, system_admin
from minqing.accounts.models import Unit, User
from minqing.accounts.services import user_create
from minqing.areas.models import Area
from minqing.core.roles import Role

from .models import Tip, TipCategory, TipCustodian
from .services import tip_assign, tip_file, tip_note_add, tip_reply, tip_transition

# Fixed demo secrets (base32), to be typed into an authenticator app. Never use in production.
DEMO_TOTP = {
    "zhengfa": "MINQINGZHENGFADEMOTOTPKEY2345672",
    "custodian": "MINQINGCUSTODIANDEMOTOTPKEY23456",
}

TIPS = [
    # area code, category, content, people named, channel, steps
    (
        "430372100202",
        "村霸",
        "村里有人长期霸占集体鱼塘,强收村民“管理费”,不交就砸网、威胁。",
        "王村官(村干部)及其亲属",
        "web",
        ["verify", "substantiate", "file_case"],
    ),
    (
        "430372100000",
        "黄赌毒",
        "镇上一家茶楼夜间聚众赌博,有人放高利贷。",
        "茶楼老板,外号“刘三”",
        "phone",
        ["verify"],
    ),
    (
        "430372100202",
        "涉恶",
        "有人在工地强行包揽土方运输,外地车辆进不来。",
        "",
        "letter",
        [],
    ),
]


def _device(user, secret_b32: str) -> None:
    key = base64.b32decode(secret_b32).hex()
    TOTPDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, name="demo", key=key, confirmed=True)


def build(*, stdout) -> None:
    admin = system_admin()
    county = Area.objects.get(code="430372000000")
    custodian = User.objects.filter(username="custodian").first()
    if custodian is None:
        custodian = user_create(
            actor=admin,
            username="custodian",
            password=DEMO_PASSWORD,
            role=Role.POLITICAL_LEGAL,
            full_name="钱保管",
            unit=Unit.objects.filter(name="昭山示范区政法委").first(),
            areas=[county],
            check_password=False,
            must_change_password=False,  # demo logins work as printed
        )
    TipCustodian.objects.get_or_create(user=custodian, area=county)
    officer = User.objects.get(username="zhengfa")
    for username, secret in DEMO_TOTP.items():
        _device(User.objects.get(username=username), secret)
    stdout.write("线索演示: zhengfa、custodian 需第二重验证,TOTP 密钥:")
    for username, secret in DEMO_TOTP.items():
        stdout.write(f"  {username:<11} {secret}")
    if Tip.objects.exists():
        return
    for code, category, content, named, channel, steps in TIPS:
        filed = tip_file(
            actor=None if channel == "web" else officer,
            area_id=Area.objects.get(code=code).pk,
            category_id=TipCategory.objects.get(name=category).pk,
            content=content,
            people_named=named,
            channel=channel,
            identity={"name": "匿名群众", "contact": "13800000000"} if channel == "phone" else None,
        )
        tip = filed.tip
        if steps:
            tip_assign(actor=officer, tip=tip, handler_id=officer.pk)
            tip_note_add(actor=officer, tip=tip, body="已安排走访核实。")
        for action in steps:
            tip = tip_transition(actor=officer, tip=tip, action=action)
        if steps:
            tip_reply(actor=officer, tip=tip, body="您反映的情况已受理并在核查中,感谢支持。")
        stdout.write(f"  线索 {tip.reference} ({tip.get_state_display()}) 回执码 {filed.receipt}")
