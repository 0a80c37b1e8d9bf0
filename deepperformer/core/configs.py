"""The one way small config dataclasses become plain dicts and back (checkpoints, recipes)."""

from __future__ import annotations

import dataclasses


class ConfigMixin:
    """``to_dict`` / ``from_dict`` for config dataclasses; unknown keys are refused, not ignored,
    so that a misspelt recipe setting cannot silently fall back to a default."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
        obj = cls(**d)
        obj.validate()
        return obj

    def validate(self) -> None:
        """Subclasses check value ranges here (raise ValueError)."""
