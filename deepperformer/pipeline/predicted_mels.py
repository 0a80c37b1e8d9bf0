"""Stage 2 run over a whole corpus: teacher-forced predicted mels for vocoder fine-tuning and for
the quality table's chain rows, cached (a resumed run skips what exists).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from deepperformer.acoustic.inference import predict_mel
from deepperformer.core.atomic import save_npy
from deepperformer.core.performance import Performance
from deepperformer.core.performers import PerformerVocab
from deepperformer.data.manifest import read_manifest
from deepperformer.pipeline.loading import load_acoustic


def cache_predicted_mels(
    acoustic_path: Path, manifests: list[Path], out_dir: Path, splits=("train", "validation"), log=print
) -> dict[Path, Path]:
    """Predict, teacher-forced, the mel of every recording (of the acoustic model's instrument and
    performers) in ``splits``; -> {corpus folder: folder of ``<recording>.npy`` float16 [T, n_mels]}."""

    model, ckpt = load_acoustic(acoustic_path)
    vocab = PerformerVocab.of(ckpt)
    instrument = ckpt["config"].get("instrument")
    dirs = {}
    for k, m in enumerate(manifests):
        root, target = Path(m).parent, out_dir / f"{k}-{Path(m).parent.name}"
        recs = {}
        for r in read_manifest(m):
            if r.split in splits and r.mel and r.instrument == instrument and r.performer in vocab:
                recs.setdefault(r.recording, r)
        for rec, r in tqdm(sorted(recs.items()), desc=f"predicting mels ({root.name})", unit="recording", dynamic_ncols=True):
            path = target / f"{rec}.npy"
            if path.exists():
                continue  # resumed
            n = np.load(root / r.mel, mmap_mode="r").shape[0]
            mel = predict_mel(model, Performance.load(root / r.performance), vocab.index(r.performer), r.tempo_qpm, n_frames=n)
            save_npy(path, mel.astype(np.float16))
        dirs[root] = target
        log(f"predicted mels: {len(recs)} recordings of {m} in {target}")
    return dirs
