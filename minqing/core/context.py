"""Per-request context (source address) that the service layer reads for audit rows."""

import contextvars
from contextlib import contextmanager

_source_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "minqing_source_address", default=None
)
_channel: contextvars.ContextVar[str] = contextvars.ContextVar("minqing_channel", default="system")
# Which credential authenticated the request when it was not the session (e.g. "token:mq_ab12…").
_credential: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "minqing_credential", default=None
)


def source_address() -> str | None:
    return _source_address.get()


def channel() -> str:
    return _channel.get()


def credential() -> str | None:
    return _credential.get()


def set_credential(label: str) -> None:
    """Called by token authentication: the rest of the request is attributed to the token
    and counts as an API call."""
    _credential.set(label)
    _channel.set("api")


@contextmanager
def request_context(*, address: str | None, channel: str):
    t1 = _source_address.set(address)
    t2 = _channel.set(channel)
    t3 = _credential.set(None)
    try:
        yield
    finally:
        _source_address.reset(t1)
        _channel.reset(t2)
        _credential.reset(t3)
