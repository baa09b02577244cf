"""The public throttle: counters in two windows, strict at a window's edge, O(1) state."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from minqing.core.public import PublicThrottle


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def _throttle(rate, clock):
    t = PublicThrottle("test_scope", rate)
    t.timer = lambda: clock[0]
    return t


def _req(addr="10.1.2.3"):
    return RequestFactory().post("/x", REMOTE_ADDR=addr)


def test_the_limit_holds_within_a_window_and_per_client():
    clock = [6000.0]  # the start of a minute window
    t = _throttle("3/m", clock)
    assert [t.allow_request(_req()) for _ in range(5)] == [True, True, True, False, False]
    assert 0 < t.wait() <= 60
    assert t.allow_request(_req("10.9.9.9"))  # another client has its own budget


def test_a_burst_at_a_windows_end_still_counts_after_the_edge():
    clock = [6059.9]  # 0.1 s before the next window
    t = _throttle("3/m", clock)
    assert all(t.allow_request(_req()) for _ in range(3))
    clock[0] = 6060.05  # just over the edge: the burst is 0.15 s old, still in the last minute
    assert not t.allow_request(_req())
    clock[0] = 6060 + 25  # ~58 % of the burst has aged out: ceil(3 × 0.58) = 2 carried
    assert t.allow_request(_req())
    assert not t.allow_request(_req())
    clock[0] = 6060 + 59.9  # next-to-nothing carried: one more fits (3 - 1 - ceil(0.005))
    assert t.allow_request(_req())
    assert not t.allow_request(_req())
    clock[0] = 6120 + 60  # two windows later everything is forgotten
    assert [t.allow_request(_req()) for _ in range(4)] == [True, True, True, False]


def test_state_is_two_small_counters_whatever_the_rate():
    clock = [7200.0]
    t = _throttle("1000000/m", clock)
    for i in range(500):
        clock[0] = 7200 + i * 0.01
        assert t.allow_request(_req())
    key = t.get_cache_key(_req())
    assert cache.get(f"{key}:{int(7200 // 60)}") == 500  # a count, not a list of 500 times
    assert cache.get(key) is None


def test_a_request_inside_a_window_counts_with_one_write(monkeypatch):
    clock = [9000.0]
    t = _throttle("100/m", clock)
    assert t.allow_request(_req())  # the window's first: its counter is made
    calls = []
    for name in ("add", "set", "incr"):
        real = getattr(cache, name)
        monkeypatch.setattr(
            cache, name, lambda *a, _n=name, _r=real, **k: calls.append(_n) or _r(*a, **k)
        )
    t.cache = cache
    for _ in range(3):
        assert t.allow_request(_req())
    assert calls == ["incr"] * 3
    key = t.get_cache_key(_req())
    assert cache.get(f"{key}:{int(9000 // 60)}") == 4
