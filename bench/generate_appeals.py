"""Appeals (诉求) and their workflow events for bench/generate.py (`--appeals N`, default
1,000,000), written by COPY into the city's own grids and villages.

States are spread like a live system (85 % archived, 4 % accepted, 5 % claimed, 3 % in
progress, 3 % resolved), each appeal with the event chain that leads to its state (受理 →
认领 → 办理 → 办结 → 回访 → 归档), so `manage.py check_workflows` finds no drift. Open
matters are owned by their village's cadre or wait at the village; due dates spread around
today, some overdue; matters filed over the two years before today.
"""

import random
from datetime import UTC, datetime, timedelta

from generate import NULL, build_indexes, copy_lines, drop_secondary_indexes, reset_sequences

# (state, share in %, the actions after CREATE that lead to it)
STATES = [
    ("archived", 85, ["claim", "start", "resolve", "rate", "archive"]),
    ("accepted", 4, []),
    ("claimed", 5, ["claim"]),
    ("in_progress", 3, ["claim", "start"]),
    ("resolved", 3, ["claim", "start", "resolve"]),
]
TO_STATE = {
    "claim": "claimed",
    "start": "in_progress",
    "resolve": "resolved",
    "rate": "revisited",
    "archive": "archived",
}
WORDS = {
    "road": ["村道烂了下雨走不得", "通组公路塌方了", "桥上栏杆断了"],
    "streetlight": ["路灯不亮晚上太黑", "村口路灯坏了好久"],
    "water": ["屋里冇得水好几天", "自来水浑得很", "水管爆了"],
    "power": ["电压低电饭煲煮不熟饭", "老是跳闸停电"],
    "housing": ["房子漏雨墙裂了", "危房改造还没批"],
    "assistance": ["低保申请没下文", "家里困难想申请临时救助"],
    "medical": ["医保报销太慢", "卫生院没有医生"],
    "education": ["孩子上学太远", "助学金没领到"],
    "sanitation": ["垃圾没人清运臭得很", "排水沟堵了"],
    "land": ["宅基地界址有争议", "征地补偿没到位"],
    "neighbour": ["邻居占了我家的路", "兄弟为赡养吵架"],
    "wages": ["包工头拖欠工钱", "老板不给工资"],
    "security": ["晚上有人偷鸡", "有人聚众赌博"],
    "agriculture": ["水渠堵了田里灌不上水", "化肥补贴没发"],
    "pension": ["养老金没到账", "高龄补贴停发了"],
}


def fill_appeals(city, staff, n: int, seed: int) -> dict:
    """COPY `n` appeals and their events; returns the counts."""
    from django.db import connection

    from minqing.appeals.models import Category
    from minqing.appeals.seeds import ensure_seeds

    ensure_seeds()  # --truncate empties the seeded categories too
    cats = list(Category.objects.filter(is_active=True).values_list("pk", "code"))
    rng = random.Random(seed * 7919 + 16)
    cadre = staff["cadre_of_village"]
    grids = [(pk, city.villages[v][0]) for pk, _code, _name, _path, v in city.grids]
    indexes = drop_secondary_indexes(["appeals_appeal", "appeals_appealevent"])
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    cum, acc = [], 0
    for state, share, path in STATES:
        acc += share
        cum.append((acc, state, path))
    events = []
    event_id = 0

    def appeals():
        nonlocal event_id
        for pk in range(1, n + 1):
            grid, village = grids[rng.randrange(len(grids))]
            cat_id, code = cats[rng.randrange(len(cats))]
            roll = rng.randrange(100)
            state, path = next((s, p) for c, s, p in cum if roll < c)
            created = today - timedelta(days=rng.randrange(730), hours=rng.randrange(24))
            if state != "archived":  # open and waiting ones are recent
                created = today - timedelta(days=rng.randrange(45), hours=rng.randrange(24))
            due = created + timedelta(days=rng.choice((5, 7, 10, 15)))
            owner = cadre.get(village) if path else None
            text = rng.choice(WORDS.get(code, ["有事反映"]))
            at = created
            chain = [("create", "", "accepted", None)]
            prev = "accepted"
            for action in path:
                at = at + timedelta(hours=rng.randrange(1, 72))
                chain.append((action, prev, TO_STATE[action], owner))
                prev = TO_STATE[action]
            for i, (action, frm, to, actor) in enumerate(chain):
                event_id += 1
                when = created if i == 0 else at - timedelta(hours=len(chain) - i)
                label = "群众" if actor is None else "村干部"
                kind = "anonymous" if actor is None else "staff"
                events.append(
                    f"{event_id}\t{when.isoformat()}\t{actor if actor else NULL}\t{kind}\t"
                    f"{label}\tvisit\t{action}\t{frm}\t{to}\t\t{pk}\n"
                )
            resolved = at.isoformat() if state in ("resolved", "archived") else NULL
            yield (
                f"{pk}\t{state}\t{created.isoformat()}\t{at.isoformat()}\tappeal\tvisit\t"
                f"{text[:30]}\t{text},第{pk}件\t\t{NULL}\t{NULL}\t{{}}\t\t\t{due.isoformat()}\t"
                f"{NULL}\t0\t0\t\t{resolved}\t{NULL}\t\t{NULL}\t\t\t\t{grid}\t{NULL}\t{NULL}\t"
                f"{village}\t{NULL}\t{NULL}\t{owner if owner else NULL}\t{NULL}\t{cat_id}\n"
            )

    columns = [
        *("id", "state", "created_at", "state_changed_at", "kind", "channel", "title"),
        *("content", "location", "latitude", "longitude", "answers", "contact_name"),
        *("contact_phone", "due_at", "reminded_at", "escalations", "supervisions", "result"),
        *("resolved_at", "solved_level", "rating", "tracking_hash", "parties"),
        *("mediation_record", "mediation_outcome", "area_id", "assigned_by_id"),
        *("created_by_id", "handling_area_id", "household_id", "mediator_id", "owner_id"),
        *("unit_id", "category_id"),
    ]

    # Appeals first (events reference them); their events are collected meanwhile and
    # copied after, in one stream.
    copied = copy_lines("appeals_appeal", columns, appeals())
    copy_lines(
        "appeals_appealevent",
        [
            *("id", "at", "actor_id", "actor_kind", "actor_label", "channel", "action"),
            *("from_state", "to_state", "comment", "appeal_id"),
        ],
        events,
    )
    build_indexes(indexes)
    reset_sequences(["appeals_appeal", "appeals_appealevent"])
    with connection.cursor() as cur:
        cur.execute("ANALYZE appeals_appeal")
        cur.execute("ANALYZE appeals_appealevent")
    return {"appeals": copied, "events": len(events)}
