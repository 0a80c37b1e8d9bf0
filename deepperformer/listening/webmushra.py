"""The same test as a webMUSHRA configuration (its YAML format), for labs that run webMUSHRA.

Written to ``DIR/webmushra/configs/<name>.yaml`` with the audio beside it in
``configs/resources/audio/<name>/``: copy ``configs/`` into a webMUSHRA installation and open
``?config=<name>.yaml``. MUSHRA pages list the reference, and the systems and our 3.5 kHz anchor as
conditions; webMUSHRA adds the hidden reference itself (so ours is not listed) and is told not to
make its own anchor. MOS becomes ``likert_single_stimulus`` pages with the five ACR answers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from deepperformer.core.atomic import write_text
from deepperformer.listening.page import MOS_LABELS


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "test"


def webmushra_config(config, stimuli, audio_prefix: str) -> dict:
    """The webMUSHRA configuration as a dict; audio paths start with ``audio_prefix``."""
    pages: list = [{"type": "generic", "id": "welcome", "name": config.name, "content": config.instructions or "Welcome."}]
    trial_pages = []
    for k, ex in enumerate(config.excerpts, 1):
        mine = [st for st in stimuli if st.excerpt == ex.id]
        if config.mode == "mushra":
            conditions = [st for st in mine if st.role in ("system", "anchor")]
            trial_pages.append(
                {
                    "type": "mushra",
                    "id": f"trial{k}",
                    "name": f"Excerpt {k}",
                    "content": "Rate the quality of each condition against the reference (0-100).",
                    "showWaveform": False,
                    "enableLooping": True,
                    "reference": audio_prefix + next(st.file for st in mine if st.role == "reference"),
                    "createAnchor35": False,
                    "createAnchor70": False,
                    "stimuli": {f"C{j}": audio_prefix + st.file for j, st in enumerate(conditions, 1)},
                }
            )
        else:
            for j, st in enumerate((s for s in mine if s.role == "system"), 1):
                trial_pages.append(
                    {
                        "type": "likert_single_stimulus",
                        "id": f"trial{k}_{j}",
                        "name": "How natural does this performance sound?",
                        "content": "Rate from 1 (bad) to 5 (excellent).",
                        "mustRate": True,
                        "mustPlayback": "ended",
                        "stimuli": {"C1": audio_prefix + st.file},
                        "response": [{"value": v, "label": f"{v} {label}"} for v, label in MOS_LABELS.items()],
                    }
                )
    pages.append(["random", *trial_pages])
    pages.append(
        {"type": "finish", "name": "Thank you", "content": "Thank you for listening!", "showResults": False, "writeResults": True}
    )
    return {
        "testname": config.name,
        "testId": _safe(config.name),
        "bufferSize": 2048,
        "stopOnErrors": True,
        "showButtonPreviousPage": True,
        "remoteService": "service/write.php",
        "pages": pages,
    }


def write_webmushra(out: Path, config, stimuli, audio_dir: Path) -> Path:
    """Write the configuration and link (or copy) the audio beside it; -> the YAML's path."""
    name = _safe(config.name)
    res = out / "configs" / "resources" / "audio" / name
    res.mkdir(parents=True, exist_ok=True)
    for st in stimuli:
        target = res / st.file
        if not target.exists():
            try:
                os.link(audio_dir / st.file, target)  # no second copy of the audio on disk
            except OSError:
                target.write_bytes((audio_dir / st.file).read_bytes())
    path = out / "configs" / f"{name}.yaml"
    write_text(path, yaml.safe_dump(webmushra_config(config, stimuli, f"configs/resources/audio/{name}/"), sort_keys=False))
    return path
