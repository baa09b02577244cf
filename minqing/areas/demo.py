"""Demo area tree from the seeds: 湘潭市 → 昭山示范区 → 昭山镇 and neighbours → villages → grids."""

from minqing.accounts.demo_users import system_admin

from .models import Area, Level
from .services import area_create

CITY = ("430300000000", "湘潭市")
COUNTY = ("430372000000", "昭山示范区")
TOWNSHIPS = {
    ("430372100000", "昭山镇"): ["昭山村", "七星村", "金屏村", "白合村", "杨柳村"],
    ("430372101000", "鹤岭镇"): ["鹤岭村", "双马村", "五星村"],
    ("430372001000", "易家湾街道"): ["易家湾社区", "红旗社区"],
}
GRIDS_PER_VILLAGE = 3


def _ensure(actor, *, parent, level, code, name):
    area = Area.objects.filter(code=code).first()
    return area or area_create(actor=actor, parent=parent, level=level, code=code, name=name)


def build(*, stdout) -> None:
    admin = system_admin()
    city = _ensure(admin, parent=None, level=Level.CITY, code=CITY[0], name=CITY[1])
    county = _ensure(admin, parent=city, level=Level.COUNTY, code=COUNTY[0], name=COUNTY[1])
    for (tcode, tname), villages in TOWNSHIPS.items():
        township = _ensure(admin, parent=county, level=Level.TOWNSHIP, code=tcode, name=tname)
        for i, vname in enumerate(villages, start=1):
            vcode = f"{tcode[:9]}{200 + i:03d}"
            village = _ensure(admin, parent=township, level=Level.VILLAGE, code=vcode, name=vname)
            for g in range(1, GRIDS_PER_VILLAGE + 1):
                _ensure(
                    admin,
                    parent=village,
                    level=Level.GRID,
                    code=f"{vcode}{g:03d}",
                    name=f"{vname}第{'一二三四五'[g - 1]}网格",
                )
    stdout.write(f"区域: {Area.objects.count()} 个 (湘潭市 › 昭山示范区 › 3 个乡镇/街道)")
