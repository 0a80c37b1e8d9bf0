"""Plain nn.Modules, each with a small config dataclass: acoustic model (and, later, renderer, vocoder)."""
