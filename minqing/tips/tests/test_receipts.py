"""Receipts: >= 80 bits, shown once, stored as a slow hash; wrong, unknown and malformed
codes get the same answer in the same time; look-ups are throttled."""

import math
import statistics
import time
from unittest import mock

import pytest

from minqing.tips import receipts, services
from minqing.tips.models import Tip, TipMessage


def test_receipt_has_at_least_80_bits_and_only_its_hash_is_stored(file_tip):
    filed = file_tip()
    assert len(filed.receipt) * math.log2(len(receipts.ALPHABET)) >= 80
    tip = Tip.objects.get()
    assert filed.receipt not in tip.receipt_hash
    assert tip.receipt_hash == receipts.receipt_hash(filed.receipt)
    assert len({file_tip().receipt for _ in range(20)}) == 20


def test_receipt_hash_is_scrypt(settings):
    with mock.patch("hashlib.scrypt", wraps=__import__("hashlib").scrypt) as spy:
        receipts.receipt_hash("ABCD")
    assert spy.call_count == 1
    assert spy.call_args.kwargs["n"] == settings.TIPS_RECEIPT_SCRYPT_N


def test_receipt_page_shows_the_code_once(client, file_tip, tree, category):
    response = client.post(
        "/tips/public/",
        {"area": tree.qixing.pk, "category": category.pk, "content": "线索内容"},
    )
    html = response.content.decode()
    code = html.split('id="receipt">')[1].split("<")[0]
    assert len(receipts.normalise(code)) == receipts.LENGTH
    # no page, no row, no log carries it afterwards
    assert code not in str(list(Tip.objects.values_list()))


def test_tipster_reads_replies_and_adds_information(client, file_tip, officers):
    filed = file_tip()
    services.tip_reply(actor=officers.county, tip=filed.tip, body="已受理,正在核查")
    response = client.post("/tips/public/receipt/", {"code": receipts.display(filed.receipt)})
    assert response.status_code == 200
    assert "已受理,正在核查" in response.content.decode()
    # lower case and without dashes works too
    response = client.post(
        "/tips/public/receipt/", {"code": filed.receipt.lower(), "body": "又看见他们收钱了"}
    )
    assert response.status_code == 200 and "补充内容已收到" in response.content.decode()
    assert TipMessage.objects.filter(from_tipster=True).get().body == "又看见他们收钱了"
    assert not response.cookies


def test_receipt_is_never_accepted_in_the_url(client, file_tip):
    filed = file_tip()
    response = client.get(f"/tips/public/receipt/?code={filed.receipt}")
    assert filed.receipt[:8] not in response.content.decode()
    assert "已受理" not in response.content.decode()


@pytest.mark.parametrize("code", ["WRONG", "0" * 20, "AAAA-BBBB-CCCC-DDDD-EEEE", "", "!" * 300])
def test_wrong_unknown_and_malformed_codes_answer_alike(client, file_tip, code):
    file_tip()
    before = TipMessage.objects.count()
    response = client.post("/tips/public/receipt/", {"code": code, "body": "x"})
    assert response.status_code == 400
    assert "回执码不对" in response.content.decode()
    assert TipMessage.objects.count() == before


def test_every_lookup_costs_one_scrypt(file_tip):
    filed = file_tip()
    for code in ("bad", "0" * 20, filed.receipt):
        with mock.patch("hashlib.scrypt", wraps=__import__("hashlib").scrypt) as spy:
            try:
                services.tip_by_receipt(code=code)
            except services.ReceiptRefused:
                pass
        assert spy.call_count == 1, code


def test_wrong_and_unknown_codes_take_the_same_time(file_tip, settings):
    settings.TIPS_RECEIPT_SCRYPT_N = 2**13
    file_tip()

    def timed(code):
        samples = []
        for _ in range(9):
            t = time.perf_counter()
            with pytest.raises(services.ReceiptRefused):
                services.tip_by_receipt(code=code)
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    malformed = timed("x")
    unknown = timed(receipts.new_receipt())
    assert 0.6 < malformed / unknown < 1.6, (malformed, unknown)


def test_lookups_are_throttled_even_for_the_right_code(file_tip, settings):
    settings.TIPS_RECEIPT_LOOKUPS_PER_MINUTE = 5
    filed = file_tip()
    for _ in range(5):
        with pytest.raises(services.ReceiptRefused):
            services.tip_by_receipt(code="guess")
    with pytest.raises(services.ReceiptRefused):
        services.tip_by_receipt(code=filed.receipt)


def test_tipster_sees_replies_but_no_internal_notes_or_names(client, file_tip, officers):
    filed = file_tip()
    services.tip_note_add(actor=officers.county, tip=filed.tip, body="内部核查笔记")
    services.tip_transition(
        actor=officers.county, tip=filed.tip, action="verify", comment="内部说明"
    )
    services.tip_reply(actor=officers.county, tip=filed.tip, body="正在核查")
    html = client.post("/tips/public/receipt/", {"code": filed.receipt}).content.decode()
    assert "正在核查" in html and "开始核查" in html
    for hidden in ("内部核查笔记", "内部说明", str(officers.county), officers.county.username):
        assert hidden not in html
