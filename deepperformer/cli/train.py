"""``deepperformer train RECIPE``: train a stage from a recipe (resumable), then export its checkpoint."""

from __future__ import annotations

from pathlib import Path

from deepperformer.core.errors import DeepPerformerError


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    tr = sub.add_parser("train", help="train a stage from a recipe (resumes from the run folder's last checkpoint)")
    tr.add_argument("recipe", type=Path, help="recipes/<dataset>/<stage>.yaml")
    tr.add_argument("-o", "--out", type=Path, help="run folder (default runs/<recipe folder>-<recipe name>)")
    tr.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value, e.g. trainer.max_steps=2000"
    )
    tr.add_argument("--max-steps", type=int, help="shortcut for --set trainer.max_steps=N")
    tr.add_argument("--devices", help="shortcut for --set trainer.devices=N (several GPUs train with DDP)")
    tr.add_argument("--num-nodes", type=int, help="shortcut for --set trainer.num_nodes=N")
    tr.add_argument("--accelerator", help="cpu | gpu | auto")
    tr.set_defaults(run=cmd_train)


def cmd_train(a) -> int:
    from deepperformer.training.recipes import load_recipe

    overrides = list(a.set)
    for key, value in (
        ("trainer.max_steps", a.max_steps),
        ("trainer.devices", a.devices),
        ("trainer.num_nodes", a.num_nodes),
        ("trainer.accelerator", a.accelerator),
    ):
        if value is not None:
            overrides.append(f"{key}={value}")
    recipe = load_recipe(a.recipe, overrides)
    out = a.out or Path("runs") / f"{a.recipe.parent.name}-{a.recipe.stem}"
    if recipe.get("stage") == "vocoder":
        from deepperformer.training.vocoder import train_vocoder

        train_vocoder(recipe, out)
    elif recipe.get("stage") in ("acoustic", "baseline"):
        from deepperformer.training.acoustic import train_stage_two

        train_stage_two(recipe, out)
    elif recipe.get("stage") == "renderer":
        from deepperformer.training.renderer import train_renderer

        train_renderer(recipe, out)
    else:
        raise DeepPerformerError(
            a.recipe, f"stage {recipe.get('stage')!r} cannot be trained (renderer, acoustic, baseline and vocoder can)"
        )
    return 0
