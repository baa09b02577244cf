"""Per-request context (source address) that the service layer reads for audit rows."""

import contextvars
from contextlib import contextmanager

_source_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "minqing_source_address", default=None
)
_channel: contextvars.ContextVar[str] = contextvars.ContextVar("minqing_channel", default="system")


def source_address() -> str | None:
    return _source_address.get()


def channel() -> str:
    return _channel.get()


@contextmanager
def request_context(*, address: str | None, channel: str):
    t1 = _source_address.set(address)
    t2 = _channel.set(channel)
    try:
        yield
    finally:
        _source_address.reset(t1)
        _channel.reset(t2)
