"""How a domain app plugs in without changes to the others.

An app may have, each optional:
- `permissions.py`: calls `core.permissions.register(...)` at import;
- `imports.py`: registers its spreadsheet importers (core.imports.register_importer);
- `nav.py`: calls `register_nav(...)` for its entries in the navigation bar;
- `urls.py` with `urlpatterns` (mounted at /<label>/) and `api.py` with `router`
  (mounted at /api/<label>/): see minqing/urls.py and minqing/api.py;
- `demo.py` with `build(*, stdout)`: called by `minqing demo` in INSTALLED_APPS order;
- `register_unit_work(...)`: the open work an app gives a unit, so a unit is not switched
  off while it still has some.
"""

from dataclasses import dataclass
from importlib import import_module, util

from django.apps import apps
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    perm: str | None
    order: int


_NAV: list[NavEntry] = []


def register_nav(*, label, url_name: str, perm: str | None = None, order: int = 100) -> None:
    if any(e.url_name == url_name for e in _NAV):
        return
    _NAV.append(NavEntry(label=label, url_name=url_name, perm=perm, order=order))
    _NAV.sort(key=lambda e: e.order)


def nav_entries() -> list[NavEntry]:
    return list(_NAV)


@dataclass(frozen=True)
class SearchEntry:
    url_name: str
    placeholder: str
    perm: str | None


_SEARCH: list[SearchEntry] = []


def register_search(*, url_name: str, placeholder, perm: str | None = None) -> None:
    """The header's search box (on every page) sends `q` to the first entry the user may use."""
    if not any(e.url_name == url_name for e in _SEARCH):
        _SEARCH.append(SearchEntry(url_name=url_name, placeholder=placeholder, perm=perm))


def search_entries() -> list[SearchEntry]:
    return list(_SEARCH)


# label -> count(unit): how much open work an app has given a unit (appeals: open matters,
# categories that send new matters there).
_UNIT_WORK: dict[str, object] = {}


def register_unit_work(label, count) -> None:
    _UNIT_WORK[str(label)] = (label, count)


def unit_work(unit) -> list[tuple[str, int]]:
    """[(what, how many)] of the open work apps have given the unit; empty when none."""
    found = []
    for label, count in _UNIT_WORK.values():
        n = count(unit)
        if n:
            found.append((str(label), n))
    return found


def minqing_apps():
    return [c for c in apps.get_app_configs() if c.name.startswith("minqing.")]


def app_module(config, name: str):
    """The app's submodule `name`, or None when the app has none."""
    full = f"{config.name}.{name}"
    if util.find_spec(full) is None:
        return None
    return import_module(full)


def autodiscover() -> None:
    autodiscover_modules("permissions")
    autodiscover_modules("nav")
    autodiscover_modules("imports")
    autodiscover_modules("audit_actions")


@dataclass(frozen=True)
class HomePanel:
    template: str
    context: object  # callable(request) -> dict, or None to skip the panel
    order: int


_HOME: list[HomePanel] = []


def register_home_panel(*, template: str, context, order: int = 100) -> None:
    """A card on the home page; later apps add theirs (visits due, open appeals...)."""
    if any(p.template == template for p in _HOME):
        return
    _HOME.append(HomePanel(template=template, context=context, order=order))
    _HOME.sort(key=lambda p: p.order)


def home_panels(request) -> list[dict]:
    panels = []
    for p in _HOME:
        ctx = p.context(request)
        if ctx is not None:
            panels.append({"template": p.template, **ctx})
    return panels
