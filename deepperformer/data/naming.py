"""Small helpers for the names and times found in dataset metadata."""

from __future__ import annotations

import re

from deepperformer.core.errors import DeepPerformerError


def slug(text: str) -> str:
    """Lower-case ASCII name safe for folders and manifests.

    >>> slug("Pianist 01"), slug("Bach/Fugue/bwv_846")
    ('pianist-01', 'bach-fugue-bwv_846')
    """
    s = re.sub(r"[^a-z0-9_.]+", "-", text.strip().lower()).strip("-.")
    return s or "unnamed"


def hms_to_seconds(text: str, where=None) -> float:
    """Parse "h:mm:ss" (or "m:ss", "ss", with optional decimals) into seconds.

    >>> hms_to_seconds("0:04:13")
    253.0
    """
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError:
        raise DeepPerformerError(where, f"bad time {text!r} (expected h:mm:ss)") from None
    secs = 0.0
    for p in parts:
        secs = secs * 60 + p
    return secs


def performer_from_asap_name(stem: str) -> str:
    """(n)ASAP performance file names are ``<Performer><nn><M?>``: the letters before the digits.

    >>> performer_from_asap_name("Shi05M"), performer_from_asap_name("KaraboM")
    ('shi', 'karabom')
    """
    m = re.match(r"[A-Za-z_\-]+", stem)
    return slug(m.group(0) if m else stem)
