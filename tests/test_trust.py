"""Trust: a checkpoint carrying a pickled object is refused before anything runs, nothing reaches
the network, and two runs writing one output path leave one complete file."""

import os
import socket
import subprocess
import sys
import wave
from pathlib import Path

import torch

from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]


class Payload:
    """Stands for any object a malicious checkpoint could carry; unpickling it would run code."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/deepperformer-pwned",))


def test_a_checkpoint_with_a_pickled_object_is_refused(tmp_path, run_cli):
    export_checkpoint(tmp_path / "ok.pt", "acoustic", {"model": {}}, MelConfig(), ["p"], {"w": torch.zeros(2)}, {"steps": 1})
    ckpt = torch.load(tmp_path / "ok.pt", weights_only=True)
    ckpt["provenance"]["note"] = Payload()
    torch.save(ckpt, tmp_path / "evil.pt")
    code, out, err = run_cli("info", tmp_path / "evil.pt")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "evil.pt: not a deepperformer checkpoint (UnpicklingError" in err
    assert not Path("/tmp/deepperformer-pwned").exists()


def test_synthesize_never_opens_a_socket(tmp_path, run_cli, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    code, out, err = run_cli("synthesize", ROOT / "data" / "examples" / "minuet_in_g.krn", "-o", tmp_path / "o.wav")
    assert code == 0, err
    assert (tmp_path / "o.wav").exists()


def test_two_writers_of_one_path_leave_one_complete_file(tmp_path):
    out = tmp_path / "same.wav"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "deepperformer",
        "synthesize",
        str(ROOT / "data" / "examples" / "minuet_in_g.krn"),
        "-o",
        str(out),
        "--vocoder",
        "griffin-lim",
    ]
    runs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for r in runs:
        assert r.wait(timeout=300) == 0, r.stderr.read()
    with wave.open(str(out)) as w:  # a whole file from one writer: the header's length is the data's
        assert w.getnframes() > 0 and w.getnframes() * 2 == len(w.readframes(w.getnframes())) * 1
    assert [p.name for p in tmp_path.iterdir()] == ["same.wav"]  # no temporary left
