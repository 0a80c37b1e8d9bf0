"""One loader for every exported model: built from the checkpoint's own configuration, mel
configuration and performer vocabulary (pipeline/loading.py, core/performers.py)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from deepperformer.acoustic.model import AcousticConfig, AcousticModel
from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import export_checkpoint
from deepperformer.core.errors import DeepPerformerError
from deepperformer.data.notes import collate_notes
from deepperformer.pipeline.loading import load_model, load_vocoder
from deepperformer.vocoders.griffin_lim import GriffinLimVocoder
from deepperformer.vocoders.hifigan import Vocoder, VocoderConfig

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def _export(path, stage, model, mel, performers=()):
    export_checkpoint(
        path,
        stage,
        config={"model": model.config.to_dict(), "instrument": None},
        mel_config=mel,
        performer_vocab=list(performers),
        state_dict=model.state_dict(),
        provenance={"steps": 0},
    )


def test_a_vocoder_for_another_mel_configuration_is_built_from_its_checkpoint(tmp_path):
    mel = MelConfig(hop_length=128, win_length=512, n_fft=512)
    voc = Vocoder(VocoderConfig(upsample_initial_channel=16, upsample_factors=[8, 8, 2], upsample_kernel_sizes=[16, 16, 4]))
    _export(tmp_path / "v.pt", "vocoder", voc, mel)
    m = load_model(tmp_path / "v.pt")
    assert m.stage == "vocoder" and m.mel_config == mel and len(m.performers) == 0
    assert m.model.vocode(np.full((10, 80), -5.0, np.float32)).shape == (10 * 128,)
    # a caller that needs this version's mel refuses it, naming the file and the difference
    with pytest.raises(DeepPerformerError, match=r"v\.pt: this checkpoint uses another mel configuration"):
        load_vocoder(tmp_path / "v.pt")


def test_sizes_that_do_not_fit_the_weights_are_one_clear_error(tmp_path):
    model = AcousticModel(AcousticConfig(d_model=16, encoder_ffn=32, decoder_ffn=32, decoder_layers=1, encoder_layers=1))
    _export(tmp_path / "a.pt", "acoustic", model, MelConfig(), ["x"])
    ckpt = torch.load(tmp_path / "a.pt", weights_only=True)
    ckpt["config"]["model"]["d_model"] = 32  # the weights say 16
    torch.save(ckpt, tmp_path / "b.pt")
    with pytest.raises(DeepPerformerError, match=r"b\.pt: cannot build its model \(.*size mismatch"):
        load_model(tmp_path / "b.pt")


def test_the_model_refuses_a_performer_it_does_not_have(tmp_path):
    model = AcousticModel(
        AcousticConfig(d_model=16, encoder_ffn=32, decoder_ffn=32, decoder_layers=1, encoder_layers=1, n_performers=2)
    )
    _export(tmp_path / "a.pt", "acoustic", model, MelConfig(), ["anna", "ben"])
    m = load_model(tmp_path / "a.pt", "acoustic")
    assert m.performers.index("ben") == 1 and m.performers.default == "anna"
    clip = {
        "pitch": np.array([60]),
        "velocity": np.array([80]),
        "onset": np.array([0.0], np.float32),
        "offset": np.array([5.0], np.float32),
        "pedal": np.zeros(8, np.float32),
    }
    assert m.model(collate_notes([clip], [8], [1], [0.0])).shape == (1, 8, 80)
    with pytest.raises(IndexError, match="performer index 2 outside the model's 2 performers"):
        m.model(collate_notes([clip], [8], [2], [0.0]))  # once clamped silently to "ben"
    with pytest.raises(DeepPerformerError, match="unknown performer 'carla'.*anna, ben"):
        m.performers.index("carla", tmp_path / "a.pt")


def test_griffin_lim_follows_the_mel_configuration_asked_for():
    mel = MelConfig(hop_length=128, win_length=512, n_fft=512)
    m = load_model("griffin-lim", "vocoder", mel)
    assert isinstance(m.model, GriffinLimVocoder) and m.mel_config == mel and m.model.config.hop_length == 128


SHIPPED_STAGE_TWO = [
    "acoustic_synthetic_piano.pt",
    "acoustic_bach_violin.pt",
    "vocoder_vocos.pt",
    "vocoder_vocos_piano.pt",
    "vocoder_vocos_violin.pt",
]


@pytest.mark.parametrize("name", SHIPPED_STAGE_TWO)
def test_shipped_checkpoints_load_through_the_one_loader(name):
    m = load_model(CHECKPOINTS / name)
    assert m.mel_config == MelConfig() and not m.model.training
    if m.stage == "acoustic":
        assert len(m.performers) == m.model.performer_emb.num_embeddings >= 2
        assert m.instrument in ("piano", "violin")
    else:  # the shared vocoder, or the one fine-tuned on one instrument's predicted mels
        assert m.instrument == {"vocoder_vocos_piano.pt": "piano", "vocoder_vocos_violin.pt": "violin"}.get(name)
