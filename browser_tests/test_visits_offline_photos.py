"""Photos taken offline are never silently lost: those of a visit that came back as a sync
conflict wait on the phone and follow the conflict's resolution (uploaded to the visit when
it is stored again, discarded with a dismissed visit); logging out first sends what it can
and warns before leaving anything on the phone."""

import pytest
from playwright.sync_api import expect

from minqing.visits.models import SyncConflict, Visit, VisitPhoto

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73000000164944415478"
    "9c633cc1c0c0c0c0c0c4c0c0c0c0c000000a5200cc5027a13c0000000049454e44ae426082"
)

API = """([url, method]) => fetch(url, {method, credentials: 'same-origin',
    headers: {'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)[1]}})
    .then(r => r.status)"""


def _logout(page):
    if not page.locator("button.logout").is_visible():
        page.click("button[data-menu]")
    page.click("button.logout")


def _offline_page(page, login):
    login("grid")
    page.goto("/visits/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    page.reload()
    page.wait_for_selector("#offline-app[data-ready='1']")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#net-status")).to_contain_text("离线")


def _queue_with_photo(page, household: str, situation: str) -> str:
    page.select_option("#household", value=household)
    page.fill("#situation", situation)
    page.set_input_files(
        "#photos", files=[{"name": "p.png", "mimeType": "image/png", "buffer": PNG}]
    )
    before = page.evaluate("window.minqingOffline.state.queue.length")
    page.click("#save-offline")
    expect(page.locator("#queue-count")).to_have_text(str(before + 1))
    return page.evaluate("window.minqingOffline.state.queue.slice(-1)[0].client_id")


def _outside_grid(household):
    """A grid outside the demo grid worker's jurisdiction."""
    from minqing.accounts.models import User
    from minqing.areas.models import Area, Level

    paths = [j.area.path for j in User.objects.get(username="grid").jurisdictions.all()]
    for g in Area.objects.filter(level=Level.GRID).exclude(pk=household.grid_id):
        if not any(g.path.startswith(p) for p in paths):
            return g
    raise AssertionError("the demo has no grid outside the grid worker's")


def test_photos_of_a_conflicted_visit_follow_its_resolution(page, login, shot, phone_photos):
    from minqing.registry.models import Household

    _offline_page(page, login)
    hid = page.locator("#household option").nth(1).get_attribute("value")
    kept = _queue_with_photo(page, hid, "离线走访:照片随冲突,之后重新入库")
    dropped = _queue_with_photo(page, hid, "离线走访:照片随冲突,之后作废")
    # meanwhile the household moved out of the grid worker's reach: both come back as
    # conflicts, their photos stay on the phone, marked as waiting
    household = Household.objects.get(pk=hid)
    home = household.grid_id
    Household.objects.filter(pk=hid).update(grid=_outside_grid(household))
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#queue-count")).to_have_text("0")
    expect(page.locator("#photo-conflicts")).to_contain_text("2")
    photos = phone_photos()
    assert sorted(p["visit"] for p in photos) == sorted([kept, dropped])
    assert all(p["conflict"] and p["visit_id"] is None for p in photos)
    assert not Visit.objects.filter(client_id__in=[kept, dropped]).exists()
    shot("visits-offline-photo-conflicts")

    # a sync while the conflicts are open changes nothing
    page.click("#sync-now")
    page.wait_for_timeout(300)
    assert len(phone_photos()) == 2

    # the data is put right; the cadre stores one again and dismisses the other
    Household.objects.filter(pk=hid).update(grid_id=home)
    one = SyncConflict.objects.get(client_id=kept)
    two = SyncConflict.objects.get(client_id=dropped)
    assert page.evaluate(API, [f"/api/visits/conflicts/{one.pk}/retry", "POST"]) == 201
    assert page.evaluate(API, [f"/api/visits/conflicts/{two.pk}/dismiss", "POST"]) == 200
    page.click("#sync-now")
    phone_photos.until_empty()
    visit = Visit.objects.get(client_id=kept)
    assert VisitPhoto.objects.filter(visit=visit).count() == 1
    assert VisitPhoto.objects.count() == 1  # the dismissed visit's photo went with it
    expect(page.locator("#photo-conflicts")).to_have_text("")


def test_logout_sends_the_queue_first_and_warns_about_what_cannot_be_sent(
    page, login, phone_photos
):
    from minqing.registry.models import Household

    _offline_page(page, login)
    hid = page.locator("#household option").nth(1).get_attribute("value")
    cid = _queue_with_photo(page, hid, "离线走访:退出前未上传")
    # still offline: logging out warns; cancelling keeps the user signed in, nothing touched
    dialogs, answer = [], {"accept": False}

    def on_dialog(d):
        dialogs.append(d.message)
        d.accept() if answer["accept"] else d.dismiss()

    page.on("dialog", on_dialog)
    _logout(page)
    page.wait_for_function("document.querySelector('form[data-logout]') !== null")
    page.wait_for_timeout(500)
    assert dialogs and "1 条走访" in dialogs[0] and "1 张照片" in dialogs[0], dialogs
    assert "/visits/offline/" in page.url
    assert page.evaluate("window.minqingOffline.state.queue.length") == 1
    assert len(phone_photos()) == 1

    # back online: logging out sends the visit and its photo first, then leaves, no question
    page.context.set_offline(False)
    assert page.evaluate("navigator.onLine")
    _logout(page)
    page.wait_for_url("**/login/**")
    assert len(dialogs) == 1, dialogs
    visit = Visit.objects.get(client_id=cid)
    assert VisitPhoto.objects.filter(visit=visit).count() == 1
    left = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('minqing.'))")
    assert left == []

    # a photo that cannot be sent (its visit is a conflict): the logout warns, and when the
    # cadre leaves all the same the photo stays on the phone for their next login
    _offline_page(page, login)
    household = Household.objects.get(pk=hid)
    home = household.grid_id
    cid = _queue_with_photo(page, hid, "离线走访:冲突未处理就退出")
    Household.objects.filter(pk=hid).update(grid=_outside_grid(household))
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#photo-conflicts")).to_contain_text("1")
    answer["accept"] = True
    _logout(page)
    page.wait_for_url("**/login/**")
    assert len(dialogs) == 2 and "0 条走访" in dialogs[1] and "1 张照片" in dialogs[1], dialogs
    assert [p["visit"] for p in phone_photos()] == [cid]

    # next login: the conflict is stored again, the photo follows
    Household.objects.filter(pk=hid).update(grid_id=home)
    login("grid")
    page.goto("/visits/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    conflict = SyncConflict.objects.get(client_id=cid)
    assert page.evaluate(API, [f"/api/visits/conflicts/{conflict.pk}/retry", "POST"]) == 201
    page.click("#sync-now")
    phone_photos.until_empty()
    assert VisitPhoto.objects.filter(visit__client_id=cid).count() == 1
