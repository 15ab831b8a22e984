"""Tokenise and mask personal data (PIPL): HMAC-SHA256 tokens and pattern masking."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

TOKEN_PREFIX = "tok_"
# Java and Python regex alike. An ID number is 17 digits and a check character; a mainland
# mobile number is 11 digits starting 13-19. Look-arounds keep them from matching inside
# longer digit runs (and inside tokens, which are hex after an underscore).
ID_CARD = r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])"
PHONE = r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
MASKS = ((ID_CARD, "[ID_CARD]"), (PHONE, "[PHONE]"), (EMAIL, "[EMAIL]"))


Keys = bytes | Sequence[bytes]


def _chain(keys: Keys) -> tuple[bytes, ...]:
    """A key, or a key ring oldest first: after a rotation a token is the newest key's token of
    the token before it (lanhai.rotation), so no stored value needs the value in clear."""
    return (keys,) if isinstance(keys, bytes | bytearray) else tuple(keys)


def token(value: str | None, key: Keys) -> str | None:
    """Return the token of one value (the Python twin of `token_col`)."""
    if value is None or value == "":
        return None
    for k in _chain(key):
        value = TOKEN_PREFIX + hmac.new(k, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return value


def mask(text: str | None) -> str | None:
    """Mask phone, ID-card and e-mail patterns in free text."""
    if text is None:
        return None
    for pattern, repl in MASKS:
        text = re.sub(pattern, repl, text)
    return text


def _pads(key: bytes) -> tuple[bytes, bytes]:
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def _hmac_col(col: Column, key: bytes) -> Column:
    from pyspark.sql import functions as F

    ipad, opad = _pads(key)
    inner = F.sha2(F.concat(F.lit(bytearray(ipad)), F.encode(col, "UTF-8")), 256)
    outer = F.sha2(F.concat(F.lit(bytearray(opad)), F.unhex(inner)), 256)
    return F.concat(F.lit(TOKEN_PREFIX), outer)


def token_col(col: Column, key: Keys) -> Column:
    """Return HMAC-SHA256(key, value) as a token, computed in Spark SQL (RFC 2104); with a key
    ring, each newer key's token of the one before."""
    from pyspark.sql import functions as F

    out = col
    for k in _chain(key):
        out = _hmac_col(out, k)
    return F.when(col.isNull() | (F.trim(col) == ""), F.lit(None)).otherwise(out)


def mask_col(col: Column) -> Column:
    """Mask phone, ID-card and e-mail patterns in a string column."""
    from pyspark.sql import functions as F

    out = col
    for pattern, repl in MASKS:
        out = F.regexp_replace(out, pattern, repl)
    return out


def protect_col(col: Column, pii: str | None, key: Keys) -> Column:
    """A contract field's value as bronze keeps it: a token for a field that is personal data
    (phone, id_card, email), the text with such values masked for `free_text`, else as is."""
    if not pii:
        return col
    return mask_col(col) if pii == "free_text" else token_col(col, key)

