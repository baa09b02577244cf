"""Area tree import (xlsx/csv): all-or-nothing, every bad row listed with its reason."""

from django.utils.translation import gettext as _

from minqing.core.audit import audit_bulk
from minqing.core.imports import Importer, RowErrors, register_importer
from minqing.core.proc_cache import process_cache_bump
from minqing.core.tabular import half_width, pick

from .models import Area, Level
from .services import area_rename, code_problem, may_hold, parse_level

AREA_COLUMNS = {
    "code": ("区划代码", "代码", "code"),
    "name": ("名称", "区域名称", "name"),
    "level": ("层级", "级别", "level"),
    "parent": ("上级代码", "上级区划代码", "parent", "parent_code"),
}
AREA_HEADERS = ["区划代码", "名称", "层级", "上级代码"]


class AreaImporter(Importer):
    """Rows: code, name, level, parent code (an existing area or a row of the same file)."""

    kind = "areas"
    perm = "areas.manage"
    label = _("导入区域")
    template_headers = AREA_HEADERS
    columns = AREA_COLUMNS
    required = ("code", "name", "level")

    def validate(self, *, actor, table, cmap, errors: RowErrors, progress):
        index = cmap.index
        rows = []
        for number, cells in table.rows:
            rows.append(
                {
                    "row": number,
                    "code": half_width(pick(cells, index, "code")).replace(" ", ""),
                    "name": half_width(pick(cells, index, "name")).strip(),
                    "level_text": pick(cells, index, "level"),
                    "parent": half_width(pick(cells, index, "parent")).replace(" ", ""),
                }
            )
        progress(0, len(rows))
        by_code: dict[str, dict] = {}
        for r in rows:
            if not r["code"]:
                errors.add(r["row"], _("区划代码为空"))
            elif r["code"] in by_code:
                errors.add(
                    r["row"],
                    _("区划代码 %(code)s 在文件中重复（第 %(first)d 行）")
                    % {"code": r["code"], "first": by_code[r["code"]]["row"]},
                )
            else:
                by_code[r["code"]] = r
            if not r["name"]:
                errors.add(r["row"], _("名称为空"))
            r["level"] = parse_level(r["level_text"])
            if r["level"] is None:
                errors.add(r["row"], _("无法识别的层级：%(t)s") % {"t": r["level_text"] or "—"})
        wanted = {r["code"] for r in rows} | {r["parent"] for r in rows if r["parent"]}
        existing = {
            a.code: a
            for a in Area.objects.filter(code__in=wanted)
            .select_related("parent")
            .only("id", "code", "level", "path", "name", "parent__code")
        }
        unchanged, renamed = [], []
        for r in rows:
            a = existing.get(r["code"])
            if a is None:
                continue
            # An area already there: unchanged, renamed (shown in the preview), or a
            # row that contradicts it (level or parent), which is an error.
            r["existing"] = True
            parent_code = a.parent.code if a.parent_id else ""
            if r["level"] is not None and r["level"] != a.level:
                errors.add(
                    r["row"],
                    _("区划代码 %(code)s 已存在,层级为%(level)s")
                    % {"code": r["code"], "level": Level(a.level).label},
                )
            elif r["parent"] and r["parent"] != parent_code:
                errors.add(
                    r["row"],
                    _("区划代码 %(code)s 已存在,上级为 %(p)s")
                    % {"code": r["code"], "p": parent_code or "—"},
                )
            elif not may_hold(actor, a):
                errors.add(r["row"], _("区域 %(c)s 不在您的管辖范围内") % {"c": r["code"]})
            elif r["name"] and r["name"] != a.name:
                renamed.append((r, a))
            else:
                unchanged.append(r)
        rows_new = [r for r in rows if not r.get("existing")]
        cyclic = _rows_in_cycles(by_code)
        for r in rows_new:
            parent_code = r["parent"]
            if parent_code and parent_code in cyclic and r["code"] in cyclic:
                errors.add(
                    r["row"], _("上级关系形成循环：%(c)s") % {"c": " → ".join(cyclic[r["code"]])}
                )
                continue
            if parent_code == r["code"] and parent_code:
                errors.add(r["row"], _("上级不能是自己"))
                continue
            parent = None
            if parent_code:
                if parent_code in by_code:
                    p = by_code[parent_code]
                    parent = (p["level"], parent_code, None)
                elif parent_code in existing:
                    a = existing[parent_code]
                    parent = (a.level, a.code, a)
                    if not may_hold(actor, a):
                        errors.add(
                            r["row"], _("上级区域 %(c)s 不在您的管辖范围内") % {"c": parent_code}
                        )
                else:
                    errors.add(r["row"], _("上级代码 %(c)s 不存在") % {"c": parent_code})
                    continue
            elif not actor.is_superuser:
                errors.add(r["row"], _("缺少上级代码（只有超级管理员能建立顶级区域）"))
            if r["level"] is None or (parent is not None and parent[0] is None):
                continue  # already reported: unknown level here or on the parent's row
            if parent is None:
                problem = code_problem(level=r["level"], code=r["code"], parent=None)
                if problem:
                    errors.add(r["row"], problem)
                continue
            if r["level"] != parent[0] + 1:
                errors.add(
                    r["row"],
                    _("层级顺序不对：%(parent)s的下级应是%(child)s，不是%(got)s")
                    % {
                        "parent": Level(parent[0]).label,
                        "child": Level(parent[0] + 1).label if parent[0] < Level.GRID else "—",
                        "got": Level(r["level"]).label,
                    },
                )
                continue
            problem = code_problem(level=r["level"], code=r["code"], parent=parent[:2])
            if problem:
                errors.add(r["row"], problem)
        progress(len(rows))
        return {"rows": rows_new, "existing": existing, "unchanged": unchanged, "renamed": renamed}

    def preview(self, plan) -> dict:
        return {
            "areas_created": len(plan["rows"]),
            "unchanged": len(plan["unchanged"]),
            "changed": len(plan["renamed"]),
            "changes": [
                {"row": r["row"], "name": a.code, "changes": [[str(_("名称")), a.name, r["name"]]]}
                for r, a in plan["renamed"][:200]
            ],
        }

    def apply(self, *, actor, plan, job, strategy: str = "create_update") -> dict:
        renamed = plan["renamed"] if strategy == "create_update" else []
        for r, a in renamed:
            area_rename(actor=actor, area=a, name=r["name"])
        if not plan["rows"] and not renamed:
            return {
                "imported": 0,
                "message": _("%(n)d 个区域无变化,未写入任何数据") % {"n": len(plan["unchanged"])},
            }
        rows = sorted(plan["rows"], key=lambda r: r["level"])
        paths = {code: a.path for code, a in plan["existing"].items()}
        ids = {code: a.pk for code, a in plan["existing"].items()}
        created = []
        for level in sorted({r["level"] for r in rows}):
            batch = []
            for r in rows:
                if r["level"] != level:
                    continue
                parent_path = paths[r["parent"]] if r["parent"] else ""
                path = Area.build_path(parent_path, r["code"])
                paths[r["code"]] = path
                batch.append(
                    Area(
                        level=level,
                        code=r["code"],
                        name=r["name"],
                        parent_id=ids[r["parent"]] if r["parent"] else None,
                        path=path,
                    )
                )
            Area.objects.bulk_create(batch, batch_size=2000)
            if batch and batch[0].pk is None:  # backends without RETURNING
                for a in Area.objects.filter(code__in=[b.code for b in batch]).only("id", "code"):
                    ids[a.code] = a.pk
            else:
                ids.update({a.code: a.pk for a in batch})
            created.extend(batch)
        if created:
            process_cache_bump("areas")  # bulk_create sends no post_save
        detail = {"import": str(job.pk), "file": job.params.get("filename", "")}
        audit_bulk(actor=actor, action="area.create", rows=[(a, detail) for a in created])
        return {
            "imported": len(created),
            "renamed": len(renamed),
            "unchanged": len(plan["unchanged"]),
            "message": _("导入成功:新增 %(c)d 个区域,改名 %(r)d 个,%(u)d 个无变化")
            % {"c": len(created), "r": len(renamed), "u": len(plan["unchanged"])},
        }


def _rows_in_cycles(by_code: dict[str, dict]) -> dict[str, list[str]]:
    """code -> the cycle it belongs to, following parent links within the file."""
    result: dict[str, list[str]] = {}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for start in by_code:
        chain, code = [], start
        while code in by_code and state.get(code) is None:
            state[code] = 1
            chain.append(code)
            code = by_code[code]["parent"]
        if code in by_code and state.get(code) == 1:
            cycle = chain[chain.index(code) :]
            for c in cycle:
                result[c] = [*cycle, code]
        for c in chain:
            state[c] = 2
    return result


register_importer(AreaImporter())
