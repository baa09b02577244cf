"""Receipt codes: 20 characters of Crockford base32 from `secrets` (100 bits), shown once.

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

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 20
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def new_receipt() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(code: str) -> str:
    return "".join(c for c in (code or "").upper() if c.isalnum()).translate(_CONFUSABLE)[:64]


def display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


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
