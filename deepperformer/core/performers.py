"""The performers a model can play as: the one owner of name <-> embedding row.

A stage-2 checkpoint stores its performer names in row order (``performer_vocab``); training builds
the list from the training split, inference looks names up in it, and fine-tuning maps rows between
two lists by name. An unknown name or an index outside the list is refused, never clamped to a
neighbour: a performer embedding cannot speak for someone it never heard.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from deepperformer.core.errors import DeepPerformerError


class PerformerVocab:
    """Performer names in embedding-row order.

    >>> v = PerformerVocab(["piano-fluidr3", "piano-musescore"])
    >>> v.index("piano-musescore"), v.name(0), v.default, len(v)
    (1, 'piano-fluidr3', 'piano-fluidr3', 2)
    >>> PerformerVocab(["a", "b"], default="b").default
    'b'

    >>> v.index("glenn-gould", source="model.pt")
    Traceback (most recent call last):
    ...
    deepperformer.core.errors.DeepPerformerError: model.pt: unknown performer 'glenn-gould' (this model knows \
piano-fluidr3, piano-musescore; see `deepperformer performers`)
    """

    def __init__(self, names: Iterable[str], default: str | None = None):
        self.names: tuple[str, ...] = tuple(names)
        self._rows = {n: i for i, n in enumerate(self.names)}
        if len(self._rows) != len(self.names):
            raise ValueError(f"performer names repeat: {sorted(n for n in self._rows if self.names.count(n) > 1)}")
        if default is not None and default not in self._rows:
            raise ValueError(f"default performer {default!r} is not among the performers")
        self._default = default

    @classmethod
    def of(cls, ckpt: dict) -> PerformerVocab:
        """The vocabulary stored in an exported checkpoint dict (with its default performer, when the
        checkpoint names one in its config)."""
        return cls(ckpt["performer_vocab"], ckpt.get("config", {}).get("default_performer"))

    @property
    def default(self) -> str | None:
        """The performer played when none is asked for: the one the checkpoint names (a renderer: the
        pianist with most training notes), else the first; None for a model without performers."""
        if self._default is not None:
            return self._default
        return self.names[0] if self.names else None

    def index(self, name: str, source=None) -> int:
        """Embedding row of ``name``; DeepPerformerError (naming ``source``) when the model does not know it."""
        if name not in self._rows:
            raise DeepPerformerError(
                source,
                f"unknown performer {name!r} (this model knows {self.listing()}; see `deepperformer performers`)",
            )
        return self._rows[name]

    def listing(self, limit: int = 12) -> str:
        """The names for a message, the first ``limit`` and how many more.

        >>> PerformerVocab(["a", "b", "c"]).listing(2)
        'a, b and 1 more'
        """
        if not self.names:
            return "nobody"
        more = len(self.names) - limit
        return ", ".join(self.names[:limit]) + (f" and {more} more" if more > 0 else "")

    def get(self, name: str, default: int | None = None) -> int | None:
        """Embedding row of ``name``, or ``default`` when unknown (for corpora that mix performers)."""
        return self._rows.get(name, default)

    def name(self, row: int) -> str:
        if not 0 <= row < len(self.names):
            raise IndexError(f"performer row {row} outside 0..{len(self.names) - 1}")
        return self.names[row]

    def rows_from(self, other: PerformerVocab) -> dict[int, int]:
        """{row here: row in ``other``} for the performers both know (fine-tuning copies those rows)."""
        return {i: other._rows[n] for i, n in enumerate(self.names) if n in other._rows}

    def __contains__(self, name: object) -> bool:
        return name in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PerformerVocab) and self.names == other.names and self.default == other.default

    def __repr__(self) -> str:
        return f"PerformerVocab({list(self.names)})"

    def to_list(self) -> list[str]:
        """What checkpoints store."""
        return list(self.names)
