"""Root URLs. Each minqing app with a urls.py is mounted at /<label>/ by itself."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from minqing.accounts.forms import ThrottledAuthenticationForm
from minqing.api import api
from minqing.core import views as core_views
from minqing.core.plugins import app_module, minqing_apps

urlpatterns = [
    path("", core_views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
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

    urlpatterns.append(
        path("bench-trivial/", login_required(lambda request: HttpResponse("ok")), name="bench")
    )
