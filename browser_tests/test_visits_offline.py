"""Offline visit capture on a phone: the page installs (manifest + service worker), keeps the
due list and households on the device, queues a visit made with no connection, and sends it
once when the connection returns."""

import pytest
from playwright.sync_api import expect

from minqing.visits.models import Visit

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_visit_made_offline_is_queued_and_synced_once(page, login, shot):
    login("grid")
    page.goto("/visits/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    assert page.locator("link[rel=manifest]").count() == 1  # the site's one manifest
    manifest = page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["display"] == "standalone"
    assert "/visits/offline/" in [s["url"] for s in manifest["shortcuts"]]
    # a second load puts the page under the service worker's control
    page.reload()
    page.wait_for_selector("#offline-app[data-ready='1']")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    households = page.evaluate("window.minqingOffline.state.pack.households.length")
    assert households > 0
    before = Visit.objects.count()

    page.context.set_offline(True)
    page.reload()  # served by the service worker from its cache
    expect(page.locator("#net-status")).to_contain_text("离线")
    option = page.locator("#household option").nth(1)
    page.select_option("#household", value=option.get_attribute("value"))
    page.locator("#members input").first.check()
    page.fill("#situation", "离线登记:老人身体尚好,家中无漏雨")
    page.click("#save-offline")
    expect(page.locator("#queue-count")).to_have_text("1")
    shot("visits-offline-queued")
    assert Visit.objects.count() == before
    queued = page.evaluate("window.minqingOffline.state.queue[0].client_id")

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#queue-count")).to_have_text("0")
    visit = Visit.objects.get(client_id=queued)
    assert visit.situation.startswith("离线登记") and visit.met_members.count() == 1
    # the same upload again (a lost answer) is stored once
    page.evaluate(
        """cid => fetch('/api/visits/sync', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json',
                      'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)[1]},
            body: JSON.stringify({visits: [{client_id: cid, household_id: hid,
                                            situation: 'again'}]})}).then(r => r.json())""".replace(
            "cid =>", "([cid, hid]) =>"
        ),
        [queued, visit.household_id],
    )
    assert Visit.objects.filter(client_id=queued).count() == 1
    assert Visit.objects.count() == before + 1
    shot("visits-offline-synced")


STORAGE = """async () => {
    const keys = Object.keys(localStorage).filter(k => k.startsWith('minqing.'));
    const caches_ = (await caches.keys()).filter(n => n.startsWith('minqing-visits'));
    const dbs = indexedDB.databases ? (await indexedDB.databases()).map(d => d.name) : [];
    return {keys, caches: caches_, dbs: dbs.filter(n => n && n.startsWith('minqing'))};
}"""


def test_logout_wipes_the_households_and_due_list_from_the_phone(page, login, shot):
    login("grid")
    page.goto("/visits/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    kept = page.evaluate(STORAGE)
    assert any(k.endswith(".pack") for k in kept["keys"]) and kept["caches"]
    page.click("button[data-menu]")
    page.click("button.logout")
    page.wait_for_url("**/login/**")
    left = page.evaluate(STORAGE)
    assert left == {"keys": [], "caches": [], "dbs": []}, left


def test_another_user_on_the_same_phone_does_not_get_the_first_ones_households(page, login):
    login("grid")
    page.goto("/visits/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    grid_keys = [k for k in page.evaluate(STORAGE)["keys"] if k.endswith(".pack")]
    assert grid_keys
    # the session ends without a logout (expired, cookies cleared); someone else logs in
    page.context.clear_cookies()
    login("cadre")
    page.goto("/")
    left = page.evaluate(STORAGE)["keys"]
    assert not set(grid_keys) & set(left), left


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73000000164944415478"
    "9c633cc1c0c0c0c0c0c4c0c0c0c0c000000a5200cc5027a13c0000000049454e44ae426082"
)


def test_tag_and_photo_queued_offline_are_stored_on_sync(page, login, shot, phone_photos):
    from minqing.visits.models import VisitFinding, VisitPhoto

    login("grid")
    page.goto("/visits/offline/")
    page.wait_for_selector("#offline-app[data-ready='1']")
    page.reload()
    page.wait_for_selector("#offline-app[data-ready='1']")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#net-status")).to_contain_text("离线")
    option = page.locator("#household option").nth(1)
    page.select_option("#household", value=option.get_attribute("value"))
    page.fill("#situation", "离线发现:家中有留守儿童")
    page.select_option("#tag", value="left_behind_child")
    page.click("#save-offline")  # a personal tag needs the member
    expect(page.locator("#form-error")).to_contain_text("请选择成员")
    member = page.locator("#tag-member option").nth(1).get_attribute("value")
    page.select_option("#tag-member", value=member)
    page.fill("#tag-date", "2025-06-01")
    page.set_input_files(
        "#photos", files=[{"name": "p.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.click("#save-offline")
    expect(page.locator("#queue-count")).to_have_text("1")
    queued = page.evaluate("window.minqingOffline.state.queue[0].client_id")
    shot("visits-offline-tag-photo-queued")

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#queue-count")).to_have_text("0")
    phone_photos.until_empty()
    visit = Visit.objects.get(client_id=queued)
    tag = VisitFinding.objects.get(visit=visit, kind="tag")
    assert tag.tag_period.resident_id == int(member)
    assert VisitPhoto.objects.filter(visit=visit).count() == 1
