"""Kaggle dataset references (``owner/slug``): the one rule the settings, the download step and
the local stand-in check them by."""

from __future__ import annotations

import re
from typing import Final

#: One part of a reference: an owner's user name or a dataset's slug, as Kaggle's URLs spell
#: them (``kaggle.com/datasets/<owner>/<slug>``): letters, digits, ``-``, ``_`` and ``.``, not
#: starting with punctuation (so neither part can climb out of a path).
_PART: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def is_part(text: str) -> bool:
    """Whether ``text`` is a well-formed owner or slug."""
    return _PART.fullmatch(text) is not None


def split_dataset_ref(reference: str) -> tuple[str, str]:
    """``"owner/slug"`` → ``("owner", "slug")``; ``ValueError`` naming the reference otherwise."""
    owner, separator, slug = reference.partition("/")
    if not (separator and is_part(owner) and is_part(slug)):
        raise ValueError(f"{reference!r} is not a Kaggle dataset reference of the form owner/slug")
    return owner, slug
