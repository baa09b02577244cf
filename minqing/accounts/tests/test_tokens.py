"""Personal API tokens: shown once, stored hashed, revocable, acting as their user, every
use attributed in the audit log."""

import pytest
from django.test import Client

from minqing.accounts.models import ApiToken
from minqing.accounts.tests.factories import UserFactory
from minqing.accounts.tokens import api_token_create, api_token_revoke, authenticate_token
from minqing.conftest import login
from minqing.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from minqing.core.models import AuditEvent
from minqing.core.roles import Role


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_the_page_shows_the_secret_once_and_stores_only_its_hash(client, users):
    login(client, users.cadre)
    page = client.post("/accounts/tokens/", {"name": "同步脚本"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    token = ApiToken.objects.get(user=users.cadre)
    raw = html.split('id="new-token">')[1].split("<")[0]
    assert raw.startswith("mq_") and len(raw) > 40
    assert token.digest != raw and raw not in token.digest and token.prefix == raw[:10]
    # never again: the list shows the prefix only
    again = client.get("/accounts/tokens/").content.decode()
    assert raw not in again and token.prefix in again and "同步脚本" in again
    assert AuditEvent.objects.filter(action="token.create", target_id=str(token.pk)).exists()


def test_a_token_acts_as_its_user_with_role_and_jurisdiction(users):
    _, raw = api_token_create(actor=users.township, user=users.township, name="手机")
    api = Client()
    me = api.get("/api/core/me", **bearer(raw))
    assert me.status_code == 200 and me.json()["username"] == "township"
    staff = api.get("/api/accounts/staff", **bearer(raw)).json()
    assert {u["username"] for u in staff["items"]} == {"grid", "cadre", "township"}
    # no token, a wrong token, a token of the wrong form: 401
    assert api.get("/api/core/me").status_code == 401
    assert api.get("/api/core/me", **bearer(raw[:-1] + "x")).status_code == 401
    assert api.get("/api/core/me", **bearer("not-a-token")).status_code == 401


def test_every_use_is_attributed_with_channel_api(users, tree):
    users.admin.is_superuser = True
    users.admin.save()
    _, raw = api_token_create(actor=users.admin, user=users.admin, name="脚本")
    api = Client(enforce_csrf_checks=True)
    r = api.patch(
        f"/api/areas/{tree.qixing.pk}",
        {"name": "七星新村"},
        content_type="application/json",
        **bearer(raw),
    )
    assert r.status_code == 200  # a token needs no CSRF token: there is no cookie to forge
    rename = AuditEvent.objects.get(action="area.rename")
    assert rename.channel == "api" and rename.actor == users.admin
    assert rename.detail["credential"] == f"token:{raw[:10]}"
    use = AuditEvent.objects.get(action="token.use")
    assert use.channel == "api" and use.actor == users.admin


def test_a_session_still_needs_csrf(users, tree):
    users.admin.is_superuser = True
    users.admin.save()
    api = Client(enforce_csrf_checks=True)
    api.force_login(users.admin)
    r = api.patch(
        f"/api/areas/{tree.qixing.pk}", {"name": "七星新村"}, content_type="application/json"
    )
    assert r.status_code == 403
    tree.qixing.refresh_from_db()
    assert tree.qixing.name == "七星村"


def test_a_revoked_token_or_a_deactivated_user_is_refused(client, users):
    token, raw = api_token_create(actor=users.cadre, user=users.cadre, name="旧手机")
    assert authenticate_token(raw).user == users.cadre
    login(client, users.cadre)
    assert client.post("/accounts/tokens/", {"revoke": token.pk}).status_code == 302
    assert authenticate_token(raw) is None
    assert Client().get("/api/core/me", **bearer(raw)).status_code == 401
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1
    _, raw2 = api_token_create(actor=users.cadre, user=users.cadre, name="新手机")
    users.cadre.is_active = False
    users.cadre.save()
    assert authenticate_token(raw2) is None


def test_nobody_revokes_or_sees_someone_elses_token(client, users):
    token, raw = api_token_create(actor=users.cadre, user=users.cadre, name="x")
    login(client, users.grid)
    assert client.post("/accounts/tokens/", {"revoke": token.pk}).status_code == 404
    assert client.post("/accounts/tokens/", {"revoke": "abc"}).status_code == 404
    assert token.prefix not in client.get("/accounts/tokens/").content.decode()
    with pytest.raises(NotFoundError):
        api_token_revoke(actor=users.outsider, token=token)
    assert authenticate_token(raw).user == users.cadre


def test_an_administrator_makes_tokens_for_service_accounts_in_their_area(users, tree):
    service = UserFactory(username="sync-bot", role=Role.GRID_WORKER, areas=[tree.qixing])
    township_admin = UserFactory(username="tadmin", role=Role.ADMIN, areas=[tree.zhaoshan])
    token, raw = api_token_create(actor=township_admin, user=service, name="同步")
    assert token.created_by == township_admin and authenticate_token(raw).user == service
    far = UserFactory(username="far-bot", role=Role.GRID_WORKER, areas=[tree.helingcun])
    with pytest.raises(PermissionDeniedError):
        api_token_create(actor=township_admin, user=far, name="同步")
    with pytest.raises(PermissionDeniedError):  # not an administrator
        api_token_create(actor=users.township, user=users.cadre, name="同步")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "a\x00b"])
def test_bad_names_change_nothing(users, name):
    before = (ApiToken.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationFailed):
        api_token_create(actor=users.cadre, user=users.cadre, name=name)
    assert (ApiToken.objects.count(), AuditEvent.objects.count()) == before


def test_docs_and_openapi_are_for_logged_in_users(client, users):
    assert client.get("/api/openapi.json").status_code == 401
    assert client.get("/api/docs").status_code == 302
    _, raw = api_token_create(actor=users.cadre, user=users.cadre, name="docs")
    assert Client().get("/api/openapi.json", **bearer(raw)).status_code == 200
    login(client, users.cadre)
    assert client.get("/api/openapi.json").status_code == 200
    docs = client.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()


def test_the_page_makes_tokens_for_service_accounts_of_administrators(client, users, tree):
    service = UserFactory(username="sync-bot", role=Role.GRID_WORKER, areas=[tree.qixing])
    far = UserFactory(username="far-bot", role=Role.GRID_WORKER, areas=[tree.helingcun])
    tadmin = UserFactory(username="tadmin", role=Role.ADMIN, areas=[tree.zhaoshan])
    login(client, tadmin)
    page = client.post("/accounts/tokens/", {"name": "同步", "user": "sync-bot"})
    assert page.status_code == 200
    token = ApiToken.objects.get(user=service)
    assert token.created_by == tadmin
    assert "sync-bot" in client.get("/accounts/tokens/").content.decode()
    page = client.post("/accounts/tokens/", {"name": "同步", "user": "far-bot"})
    assert page.status_code == 400 and not ApiToken.objects.filter(user=far).exists()
    # a non-administrator's "user" field is ignored: never a token for someone else
    login(client, users.cadre)
    page = client.post("/accounts/tokens/", {"name": "x", "user": "grid"})
    assert page.status_code == 400 and not ApiToken.objects.filter(user=users.grid).exists()


# --- tokens of a role that needs a second factor (political-legal officers read tips) ---


def test_an_administrator_cannot_mint_a_token_for_an_officer_who_needs_a_second_factor(
    client, users
):
    users.admin.is_superuser = True
    users.admin.save()
    with pytest.raises(PermissionDeniedError):
        api_token_create(actor=users.admin, user=users.zhengfa, name="后门", second_factor=True)
    # through the page as the attacker would: the administrator names the officer's account
    login(client, users.admin)
    page = client.post("/accounts/tokens/", {"name": "后门", "user": "zhengfa"})
    assert page.status_code in (400, 403)
    assert not ApiToken.objects.filter(user=users.zhengfa).exists()


def test_the_officer_gets_a_token_only_from_a_session_that_passed_the_second_factor(client, users):
    # a password alone (stolen, say) never reaches the page: the middleware sends it to verify
    login(client, users.zhengfa, second_factor=False)
    assert client.post("/accounts/tokens/", {"name": "手机"}).status_code == 302
    with pytest.raises(PermissionDeniedError):
        api_token_create(actor=users.zhengfa, user=users.zhengfa, name="手机")
    assert not ApiToken.objects.filter(user=users.zhengfa).exists()
    # after the code: the token works on the tips API, and only there where the role may go
    login(client, users.zhengfa)
    html = client.post("/accounts/tokens/", {"name": "手机"}).content.decode()
    raw = html.split('id="new-token">')[1].split("<")[0]
    token = ApiToken.objects.get(user=users.zhengfa)
    assert token.second_factor_at is not None
    assert Client().get("/api/tips/", **bearer(raw)).status_code == 200


def test_an_officer_token_expires_and_one_made_before_the_role_needed_it_is_refused(users):
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    _, raw = api_token_create(
        actor=users.zhengfa, user=users.zhengfa, name="手机", second_factor=True
    )
    assert authenticate_token(raw) is not None
    token = ApiToken.objects.get(user=users.zhengfa)
    token.second_factor_at = timezone.now() - timedelta(
        days=settings.OTP_TOKEN_MAX_AGE_DAYS, minutes=1
    )
    token.save()  # (time passing needs no save: the age is checked on every use)
    assert authenticate_token(raw) is None
    assert Client().get("/api/tips/", **bearer(raw)).status_code == 401
    # a cadre's token, then the cadre becomes a political-legal officer: the old token stops
    _, old = api_token_create(actor=users.cadre, user=users.cadre, name="旧")
    users.cadre.role = Role.POLITICAL_LEGAL
    users.cadre.save()
    assert authenticate_token(old) is None
    assert Client().get("/api/core/me", **bearer(old)).status_code == 401


# ---- the per-process copy of tokens (accounts.tokens.authenticate_token) -----------------


def test_a_seen_token_costs_no_lookup(users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, raw = api_token_create(actor=users.cadre, user=users.cadre, name="脚本")
    assert authenticate_token(raw).user == users.cadre
    with CaptureQueriesContext(connection) as q:
        again = authenticate_token(raw)
    assert again.user == users.cadre
    assert not [x for x in q.captured_queries if "accounts_apitoken" in x["sql"]]


def test_a_revoked_token_stops_at_once_despite_the_copy(users):
    token, raw = api_token_create(actor=users.cadre, user=users.cadre, name="脚本")
    api = Client()
    assert api.get("/api/core/me", **bearer(raw)).status_code == 200
    api_token_revoke(actor=users.cadre, token=token)
    assert authenticate_token(raw) is None
    assert api.get("/api/core/me", **bearer(raw)).status_code == 401


def test_a_deactivated_user_stops_at_once_despite_the_copy(users):
    _, raw = api_token_create(actor=users.cadre, user=users.cadre, name="脚本")
    assert authenticate_token(raw) is not None
    users.cadre.is_active = False
    users.cadre.save()
    assert authenticate_token(raw) is None


def test_requests_do_not_share_one_user_object(users):
    _, raw = api_token_create(actor=users.cadre, user=users.cadre, name="脚本")
    a, b = authenticate_token(raw), authenticate_token(raw)
    a.user._jurisdiction_paths = ["x"]
    assert a.user is not b.user and getattr(b.user, "_jurisdiction_paths", None) != ["x"]
