"""Root URLs. Each minqing app with a urls.py is mounted at /<label>/ by itself."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.urls.resolvers import RoutePattern
from django.views.i18n import JavaScriptCatalog

from minqing.accounts.forms import LoginForm
from minqing.api import api
from minqing.api import not_found as api_not_found
from minqing.core import views as core_views
from minqing.core.plugins import app_module, minqing_apps


def _by_app(urls):
    """The API's ~110 patterns with one include per first path segment (/api/appeals/…):
    Django tries patterns in order, and the public intake was the 80th (~70 µs of its
    request); now it is matched against the ten segments, then its app's patterns. Names,
    the namespace and every route stay the same (a first segment that is a variable would
    let the order matter: then the list is left as it is)."""
    patterns, app_name, namespace = urls
    if not all(isinstance(p.pattern, RoutePattern) for p in patterns):
        return urls
    split = [str(p.pattern).partition("/") for p in patterns]
    if any(sep and "<" in head for head, sep, _rest in split):
        return urls
    groups: dict[str, list] = {}
    for p, (head, sep, rest) in zip(patterns, split, strict=True):
        if sep:
            groups.setdefault(head, []).append(path(rest, p.callback, p.default_args, p.name))
    grouped, seen = [], set()
    for p, (head, sep, _rest) in zip(patterns, split, strict=True):
        if not sep:
            grouped.append(p)
        elif head not in seen:
            seen.add(head)
            grouped.append(path(f"{head}/", include(groups[head])))
    return grouped, app_name, namespace


urlpatterns = [
    path("", core_views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/", _by_app(api.urls)),
    re_path(r"^api/", api_not_found),
    path("healthz", core_views.healthz, name="healthz"),
    path("open311/v2/", include("minqing.appeals.open311")),  # GeoReport v2 (appeals)
]

for config in minqing_apps():
    module = app_module(config, "urls")
    if module is not None:
        urlpatterns.append(path(f"{config.label}/", include((module, config.label))))

if settings.MINQING_BENCH:
    # bench/bench_pages.py: the trivial @login_required view the load mix is compared with.
    from django.contrib.auth.decorators import login_required
    from django.http import HttpResponse
    from django.shortcuts import render

    from minqing.core.benchtiming import floor_view

    urlpatterns.append(
        path("bench-trivial/", login_required(lambda request: HttpResponse("ok")), name="bench")
    )
    # the layout alone (base.html, its context processors, an empty block): the shell's cost
    urlpatterns.append(
        path(
            "bench-shell/",
            login_required(lambda request: render(request, "bench_shell.html")),
            name="bench_shell",
        )
    )
    # the same hand-written SQL as the page, behind the same middleware and login
    urlpatterns.append(path("bench-floor/<str:key>/", login_required(floor_view)))
