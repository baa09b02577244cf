"""Receipt codes: 20 characters of the kernel's Crockford base32 (core/public.py) from
`secrets` (100 bits), shown once.

Only a slow hash (scrypt, 16 MiB of memory per try) is stored; with 100 random bits a
database dump gives no practical way back to a code. The salt is fixed (the hash is the
look-up key, one indexed equality), which is safe because the codes are random, not chosen. Every look-up costs the same one scrypt whatever the input (a
malformed code is hashed too), then one indexed equality: wrong and unknown codes answer
alike, in the same time. Look-ups are throttled globally (not per address: no address is
kept for tip endpoints), which makes a guessing loop hopeless on top of the 100 bits.
"""

import hashlib
import secrets
import time

from django.conf import settings
from django.core.cache import cache

from minqing.core.public import ALPHABET, format_code, normalise_code

LENGTH = 20  # 20 x 5 bits = 100 bits (the kernel's tracking codes have 16)


def new_receipt() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(code: str) -> str:
    return normalise_code((code or "")[:200])


def display(code: str) -> str:
    return format_code(code)


def receipt_hash(code: str) -> str:
    return hashlib.scrypt(
        normalise(code).encode(),
        salt=b"minqing-tip-receipt",
        n=settings.TIPS_RECEIPT_SCRYPT_N,
        r=8,
        p=1,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    ).hex()


def lookup_allowed() -> bool:
    """A global budget of look-ups per minute; counted in the cache, never per client."""
    key = f"tips:receipt-lookups:{int(time.time() // 60)}"
    cache.add(key, 0, 120)
    try:
        n = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 120)
        n = 1
    return n <= settings.TIPS_RECEIPT_LOOKUPS_PER_MINUTE
