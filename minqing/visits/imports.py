"""Pairing lists (结对帮扶名单) from the spreadsheets cadres keep: 帮扶责任人, 户主姓名 and the
household's 户编号 or 户主身份证号, optionally the date. All-or-nothing through the core
import job (dry run, every bad row listed with its reason, then commit)."""

from django.db.models import Q
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from minqing.accounts.models import User
from minqing.core.audit import audit_bulk
from minqing.core.imports import Importer, RowErrors, register_importer
from minqing.core.permissions import _REGISTRY
from minqing.core.tabular import half_width, pick
from minqing.registry.models import Household, Resident
from minqing.registry.rules import RuleError, clean_date, clean_id_number, clean_text

from .models import Pairing

PAIRING_COLUMNS = {
    "cadre": ("帮扶责任人", "帮扶干部", "结对干部", "包户干部", "责任人"),
    "username": ("责任人账号", "帮扶责任人账号", "账号", "用户名"),
    "head_name": ("户主姓名", "户主"),
    "number": ("户编号", "户号"),
    "id_number": ("户主身份证号", "身份证号", "身份证号码"),
    "start": ("结对日期", "开始日期", "起始日期", "结对时间"),
}
PAIRING_HEADERS = ["帮扶责任人", "责任人账号", "户主姓名", "户编号", "户主身份证号", "结对日期"]


class PairingImporter(Importer):
    """Rows name a cadre (by name, or by account when two share a name) and a household (by
    number, or by its head's ID); the cadre must hold the household's grid or an area
    above it. A pair already in force is left unchanged."""

    kind = "visits_pairings"
    perm = "visits.manage_pairings"
    label = _("导入结对帮扶名单")
    template_headers = PAIRING_HEADERS
    columns = PAIRING_COLUMNS
    required = ("cadre", ("number", "id_number"))
    ignored = ("序号",)

    def validate(self, *, actor, table, cmap, errors: RowErrors, progress):
        index = cmap.index
        today = timezone.localdate()
        rows = []
        for number, cells in table.rows:
            rows.append(
                {
                    "row": number,
                    "cadre": clean_text(pick(cells, index, "cadre")),
                    "username": half_width(pick(cells, index, "username")).strip(),
                    "head_name": clean_text(pick(cells, index, "head_name")),
                    "number": half_width(pick(cells, index, "number")).replace(" ", ""),
                    "id_number": pick(cells, index, "id_number"),
                    "start_text": pick(cells, index, "start"),
                }
            )
        if not rows:
            errors.add(table.header_row, _("文件中没有数据行"))
            return {"rows": []}
        progress(0, len(rows))
        for r in rows:
            if not r["cadre"] and not r["username"]:
                errors.add(r["row"], _("帮扶责任人为空"), "cadre")
            try:
                r["start"] = clean_date(r["start_text"], month_only_ok=False) or today
            except RuleError as exc:
                errors.add(r["row"], exc.message, "start")
                r["start"] = None
            if r["start"] and r["start"] > today:
                errors.add(r["row"], _("结对日期不能晚于今天"), "start")
            r["id"] = ""
            if r["id_number"].strip():
                try:
                    r["id"] = clean_id_number(r["id_number"])[0]
                except RuleError as exc:
                    errors.add(r["row"], exc.message, "id_number")
            if not r["number"] and not r["id"] and not r["id_number"].strip():
                errors.add(r["row"], _("户编号和户主身份证号都为空"), "number")

        # households: by number, else by the head's ID; only those the user sees
        visible = Household.objects.visible_to(actor)
        by_number = {
            h.number: h
            for h in visible.filter(
                number__in={r["number"] for r in rows if r["number"]}
            ).select_related("grid", "head")
        }
        ids = {r["id"] for r in rows if r["id"] and not r["number"]}
        by_id = {}
        if ids:
            for res in Resident.objects.filter(
                id_number__in=ids, household__in=visible
            ).select_related("household__grid", "household__head"):
                by_id[res.id_number] = res.household
        for r in rows:
            h = by_number.get(r["number"]) if r["number"] else by_id.get(r["id"])
            r["household"] = h
            if h is None:
                if r["number"]:
                    errors.add(
                        r["row"],
                        _("户编号 %(n)s 不存在或不在您的管辖范围内") % {"n": r["number"]},
                        "number",
                    )
                elif r["id"]:
                    errors.add(r["row"], _("该身份证号没有登记在您管辖范围内的户中"), "id_number")
                continue
            head = h.head.name if h.head_id else ""
            if r["head_name"] and r["head_name"] != head:
                errors.add(
                    r["row"],
                    _("户主姓名“%(given)s”与登记的户主“%(head)s”不一致")
                    % {"given": r["head_name"], "head": head or "—"},
                    "head_name",
                )

        # cadres: staff who may visit, by account or full name, with their areas
        roles = _REGISTRY["visits.record"].roles
        names = {r["cadre"] for r in rows if r["cadre"] and not r["username"]}
        accounts = {r["username"] for r in rows if r["username"]}
        staff = (
            User.objects.filter(is_active=True, role__in=roles)
            .annotate(full=Concat("last_name", "first_name"))
            .filter(Q(full__in=names) | Q(username__in=accounts))
        )
        people = {}
        for uid, username, full, path in staff.values_list(
            "id", "username", "full", "jurisdictions__area__path"
        ):
            p = people.setdefault(uid, {"id": uid, "username": username, "full": full, "paths": []})
            if path:
                p["paths"].append(path)
        by_name: dict[str, list] = {}
        by_account = {}
        for p in people.values():
            by_name.setdefault(p["full"], []).append(p)
            by_account[p["username"]] = p
        seen: dict[tuple, int] = {}
        plan = []
        for r in rows:
            h = r["household"]
            if h is None:
                continue
            path = h.grid.path
            if r["username"]:
                p = by_account.get(r["username"])
                found = [p] if p and any(path.startswith(a) for a in p["paths"]) else []
                who = r["username"]
            else:
                found = [
                    p
                    for p in by_name.get(r["cadre"], [])
                    if any(path.startswith(a) for a in p["paths"])
                ]
                who = r["cadre"]
            if not found:
                errors.add(
                    r["row"],
                    _("找不到帮扶责任人“%(who)s”:须是负责该户所在区域、可以走访的工作人员")
                    % {"who": who},
                    "cadre",
                )
                continue
            if len(found) > 1:
                errors.add(
                    r["row"],
                    _("负责该户的工作人员中有 %(n)d 人叫“%(who)s”,请填写责任人账号")
                    % {"n": len(found), "who": who},
                    "username",
                )
                continue
            key = (found[0]["id"], h.pk)
            if key in seen:
                errors.add(
                    r["row"],
                    _("与第 %(first)d 行重复(同一责任人、同一户)") % {"first": seen[key]},
                )
                continue
            seen[key] = r["row"]
            if r.get("start"):
                plan.append(
                    {
                        "row": r["row"],
                        "cadre": found[0]["id"],
                        "household": h.pk,
                        "grid": h.grid_id,
                        "start": r["start"],
                        "number": h.number,
                    }
                )
        in_force = set(
            Pairing.objects.filter(
                end_date__isnull=True, household_id__in={p["household"] for p in plan}
            ).values_list("cadre_id", "household_id")
        )
        progress(len(rows))
        return {
            "rows": [p for p in plan if (p["cadre"], p["household"]) not in in_force],
            "unchanged": [p for p in plan if (p["cadre"], p["household"]) in in_force],
        }

    def preview(self, plan) -> dict:
        return {"pairings_created": len(plan["rows"]), "unchanged": len(plan["unchanged"])}

    def apply(self, *, actor, plan, job, strategy: str = "create_update") -> dict:
        created = Pairing.objects.bulk_create(
            [
                Pairing(
                    cadre_id=p["cadre"],
                    household_id=p["household"],
                    start_date=p["start"],
                    created_by=actor,
                )
                for p in plan["rows"]
            ]
        )
        detail = {"import": str(job.pk), "file": job.params.get("filename", "")}
        audit_bulk(
            actor=actor,
            action="visits.pairing.create",
            rows=[
                (p, {**detail, "household": q["number"]}, q["grid"])
                for p, q in zip(created, plan["rows"], strict=True)
            ],
        )
        return {
            "imported": len(plan["rows"]),
            "unchanged": len(plan["unchanged"]),
            "message": _("导入成功:新增 %(c)d 条结对,%(u)d 条已在册")
            % {"c": len(plan["rows"]), "u": len(plan["unchanged"])},
        }


register_importer(PairingImporter())
