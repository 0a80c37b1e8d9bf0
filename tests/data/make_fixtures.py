"""Regenerate the test fixtures in tests/data (run from the repository root with the venv's python).

Every fixture is written by hand or by this script, in the exact official layout of its dataset, and
holds no real data: scores are the hand-written ``scores/minuet.musicxml`` (repeat, chord, tie, grace
note, tempo and dynamics markings), performances are its deadpan rendering with fixed timing and
velocity deviations, and audio is sine tones at the notes' pitches. Committed outputs; rerun only
to change them.
"""

from __future__ import annotations

import csv
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

from deepperformer.core.performance import PEDAL_DTYPE, Performance
from deepperformer.core.score import load_score
from deepperformer.render.deadpan import deadpan

HERE = Path(__file__).resolve().parent
SCORE = HERE / "scores" / "minuet.musicxml"
STEPS = ["C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B"]
ALTERS = ["n", "#", "n", "#", "n", "n", "#", "n", "#", "n", "#", "n"]


def humanize(perf: Performance, seed: int) -> Performance:
    """Deterministic timing and velocity deviations, plus a sustain pedal, so loaders see real-looking data."""
    rng = np.random.default_rng(seed)
    n = perf.notes.copy()
    n["onset_sec"] = np.maximum(0.0, n["onset_sec"] + rng.normal(0, 0.015, len(n))) + 0.25
    n["duration_sec"] *= rng.uniform(0.8, 1.0, len(n))
    n["velocity"] = np.clip(n["velocity"] + rng.integers(-8, 9, len(n)), 1, 127)
    end = float((n["onset_sec"] + n["duration_sec"]).max())
    pedal = np.array([(0.0, 0), (0.3, 80), (end / 2, 0), (end / 2 + 0.05, 90), (end, 0)], dtype=PEDAL_DTYPE)
    return Performance(n, pedal, perf.source)


def sine_audio(perf: Performance, sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    out = np.zeros_like(t)
    for n in perf.notes:
        f = 440.0 * 2 ** ((n["pitch"] - 69) / 12)
        m = (t >= n["onset_sec"]) & (t < n["onset_sec"] + n["duration_sec"])
        out[m] += 0.1 * (n["velocity"] / 127) * np.sin(2 * np.pi * f * t[m])
    return out.astype(np.float32)


def match_text(score_notes, perf: Performance, performer: str, piece: str, score_name: str, midi_name: str) -> str:
    """A match file (format 1.0.0) for a score and a performance whose notes carry score ids.

    The last score note is written as a deletion and one extra performed note as an insertion.
    """
    tpq, rate = 480, 500000
    ticks = lambda s: int(round(s * 1e6 / rate * tpq))  # noqa: E731
    lines = [
        "info(matchFileVersion,1.0.0).",
        f"info(piece,{piece}).",
        f"info(scoreFileName,{score_name}).",
        f"info(midiFileName,{midi_name}).",
        "info(composer,Anonymous).",
        f"info(performer,{performer}).",
        f"info(midiClockUnits,{tpq}).",
        f"info(midiClockRate,{rate}).",
        "scoreprop(keySignature,C,1:1,0,0.0000).",
        "scoreprop(timeSignature,3/4,1:1,0,0.0000).",
    ]
    by_id = {str(p["score_id"]): (i, p) for i, p in enumerate(perf.notes)}
    for k, s in enumerate(score_notes):
        q = float(s["onset_quarter"])
        bar, beat = int(q // 3) + 1, int(q % 3) + 1
        frac = q - np.floor(q)
        off = "0" if frac == 0 else "1/8"
        dur = {0.0: "0", 0.5: "1/8", 1.0: "1/4", 2.0: "1/2"}[float(s["duration_quarter"])]
        pc, octave = int(s["pitch"]) % 12, int(s["pitch"]) // 12 - 1
        attrs = "[v1,staff1,grace]" if s["is_grace"] else "[v1,staff1]"
        snote = (
            f"snote({s['id']},[{STEPS[pc]},{ALTERS[pc]}],{octave},{bar}:{beat},{off},{dur},"
            f"{q:.4f},{q + float(s['duration_quarter']):.4f},{attrs})"
        )
        if k == len(score_notes) - 1 or str(s["id"]) not in by_id:
            lines.append(f"{snote}-deletion.")
            continue
        i, p = by_id[str(s["id"])]
        on, offt = ticks(p["onset_sec"]), ticks(p["onset_sec"] + p["duration_sec"])
        lines.append(f"{snote}-note(n{i},{p['pitch']},{on},{offt},{p['velocity']},0,0).")
    last = perf.notes[-1]
    lines.append(
        f"insertion-note(n{len(perf.notes)},{int(last['pitch']) + 12},"
        f"{ticks(last['onset_sec'])},{ticks(last['onset_sec'] + 0.2)},40,0,0)."
    )
    for e in perf.pedal:
        lines.append(f"sustain({ticks(e['time_sec'])},{int(e['value'])}).")
    return "\n".join(lines) + "\n"


def perf_for_match(score_notes, seed: int) -> Performance:
    """Humanized deadpan rendering; the last score note is left unplayed (a deletion)."""
    from deepperformer.core.score import TEMPO_DTYPE, Score

    s = Score(score_notes[:-1], np.array([(0.0, 90.0)], dtype=TEMPO_DTYPE))
    return humanize(deadpan(s), seed)


def write_match_corpus(root: Path, unfold: str, performer: str, piece: str, score_dir: str, stem: str, seed: int) -> None:
    score = load_score(SCORE, unfold=unfold)
    perf = perf_for_match(score.notes, seed)
    (root / "match").mkdir(parents=True, exist_ok=True)
    (root / score_dir).mkdir(parents=True, exist_ok=True)
    (root / "midi").mkdir(parents=True, exist_ok=True)
    shutil.copy(SCORE, root / score_dir / f"{piece}.musicxml")
    # Performed notes in the MIDI and in the match file must agree: the match ids are "n<row>".
    perf.write_midi(root / "midi" / f"{stem}.mid", tail_sec=0.0)
    (root / "match" / f"{stem}.match").write_text(
        match_text(score.notes, perf, performer, piece, f"{piece}.musicxml", f"{stem}.mid")
    )


def main() -> None:
    from deepperformer.core.performance import load_performance_midi

    # --- score formats: MXL (compressed MusicXML) and a MIDI score --------------------------------
    mxl = HERE / "scores" / "minuet.mxl"
    with zipfile.ZipFile(mxl, "w", zipfile.ZIP_DEFLATED) as z:
        # fixed timestamps so that regenerating leaves the file unchanged
        z.writestr(
            zipfile.ZipInfo("META-INF/container.xml", (2020, 1, 1, 0, 0, 0)),
            '<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
            '<rootfile full-path="minuet.musicxml" media-type="application/vnd.recordare.musicxml+xml"/>'
            "</rootfiles></container>",
        )
        z.writestr(zipfile.ZipInfo("minuet.musicxml", (2020, 1, 1, 0, 0, 0)), SCORE.read_bytes())
    deadpan(load_score(SCORE, unfold="none")).write_midi(HERE / "scores" / "minuet.mid", tail_sec=0.0)

    # --- Bach Violin Dataset ------------------------------------------------------------------------
    bv = HERE / "bach-violin"
    shutil.rmtree(bv, ignore_errors=True)
    score = load_score(SCORE, unfold="maximal")
    perf = humanize(deadpan(score), seed=1)
    cols = [
        "filename",
        "collection",
        "violinist",
        "violinist_name",
        "work",
        "title",
        "mov",
        "movement",
        "source_filename",
        "start",
        "end",
        "length",
        "repeat1",
        "repeat2",
        "score_filename",
        "baroque_tuning",
    ]
    rows = [
        [
            "jane-doe_bwv1001_mov1",
            "jane-doe",
            "jane-doe",
            "Jane Doe",
            "BWV1001",
            "Sonata No. 1 in G minor",
            "1",
            "Adagio",
            "jane-doe_bwv1001_mov1.mp3",
            "0:00:01",
            "0:00:11",
            "0:00:10",
            "-",
            "-",
            "bwv1001_mov1",
            "0",
        ],
        [
            "jane-doe_bwv1001_mov2",
            "jane-doe",
            "jane-doe",
            "Jane Doe",
            "BWV1001",
            "Sonata No. 1 in G minor",
            "2",
            "Fuga",
            "jane-doe_bwv1001_mov2.opus",
            "0:00:00",
            "0:00:10",
            "0:00:10",
            "-",
            "-",
            "bwv1001_mov2",
            "1",
        ],
        [
            "jane-doe_bwv1001_mov3",
            "jane-doe",
            "jane-doe",
            "Jane Doe",
            "BWV1001",
            "Sonata No. 1 in G minor",
            "3",
            "Siciliana",
            "jane-doe_bwv1001_mov3.mp3",
            "0:00:00",
            "0:00:10",
            "0:00:10",
            "1",
            "1",
            "bwv1001_mov3",
            "0",
        ],
        [
            "john-roe_bwv1001_mov3",
            "john-roe",
            "john-roe",
            "John Roe",
            "BWV1001",
            "Sonata No. 1 in G minor",
            "3",
            "Siciliana",
            "john-roe_bwv1001_mov3.mp3",
            "0:00:00",
            "0:00:10",
            "0:00:10",
            "1",
            "1",
            "bwv1001_mov3",
            "0",
        ],
        [
            "john-roe_bwv1001_mov4",
            "john-roe",
            "john-roe",
            "John Roe",
            "BWV1001",
            "Sonata No. 1 in G minor",
            "4",
            "Presto",
            "john-roe_bwv1001_mov4.mp3",
            "0:00:00",
            "0:00:10",
            "0:00:10",
            "1",
            "1",
            "bwv1001_mov4",
            "0",
        ],
    ]
    (bv / "scores" / "bwv1001").mkdir(parents=True)
    with open(bv / "info.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(rows)
    sr = 16000
    for k, row in enumerate(rows):
        fn, coll = row[0], row[1]
        for sub in ("notes", "alignments", "tempos"):
            (bv / sub / coll).mkdir(parents=True, exist_ok=True)
        with open(bv / "notes" / coll / f"{fn}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["onset", "offset", "pitch", "velocity"])
            for s in score.notes:
                on = int(round(s["onset_quarter"] * 24))
                w.writerow([on, on + int(round(s["duration_quarter"] * 24)), int(s["pitch"]), 64])
        # Alignments follow the notes' row order; quantised to 0.032 s like the dataset's.
        by_id = {str(p["score_id"]): p for p in perf.notes}
        with open(bv / "alignments" / coll / f"{fn}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["start", "end"])
            for s in score.notes:
                p = by_id[str(s["id"])]
                st = round(p["onset_sec"] / 0.032) * 0.032
                en = st if s["is_grace"] else round((p["onset_sec"] + p["duration_sec"]) / 0.032) * 0.032
                w.writerow([round(st, 3), round(en, 3)])
        (bv / "tempos" / coll / f"{fn}.txt").write_text("90.0\n")
        shutil.copy(mxl, bv / "scores" / "bwv1001" / f"{row[14]}.mxl")
        if k == 4:
            continue  # the last movement's audio is absent, as for most of the real dataset
        (bv / "audio" / coll).mkdir(parents=True, exist_ok=True)
        offset = 1.0 if row[9] == "0:00:01" else 0.0
        audio = np.concatenate([np.zeros(int(offset * sr), np.float32), sine_audio(perf, sr, 10.0)])
        path = bv / "audio" / coll / row[8]
        if path.suffix == ".mp3":
            sf.write(path, audio, sr, format="MP3", subtype="MPEG_LAYER_III")
        else:
            sf.write(path, audio, sr, format="OGG", subtype="OPUS")
    for coll in ("jane-doe", "john-roe"):
        (bv / "audio" / coll).mkdir(parents=True, exist_ok=True)
        (bv / "audio" / coll / "LICENSE").write_text("Test fixture written by tests/data/make_fixtures.py; public domain.\n")

    # --- MAESTRO v3.0.0 -------------------------------------------------------------------------------
    ma = HERE / "maestro"
    shutil.rmtree(ma, ignore_errors=True)
    (ma / "2004").mkdir(parents=True)
    (ma / "2018").mkdir(parents=True)
    meta = []
    splits = [("2004", "train"), ("2004", "train"), ("2018", "validation"), ("2018", "test")]
    titles = ["Minuet", "Minuet", "Prelude", "Etude"]
    small = load_score(SCORE, unfold="none")
    for k, ((year, split), title) in enumerate(zip(splits, titles)):
        stem = f"MIDI-Unprocessed_0{k}_R1_{year}_01-0{k}_ORIG_MID--AUDIO_0{k}_R1_{year}_wav--{k}"
        p = humanize(deadpan(small, qpm=240), seed=10 + k)
        p.write_midi(ma / year / f"{stem}.midi", tail_sec=0.0)
        # MAESTRO audio is 44.1 or 48 kHz stereo; 4 kHz stereo keeps the fixture small and still
        # exercises resampling and downmixing.
        a = sine_audio(p, 4000, p.duration + 0.2)
        sf.write(ma / year / f"{stem}.wav", np.stack([a, 0.5 * a], axis=1), 4000, subtype="PCM_16")
        meta.append(
            {
                "canonical_composer": "Anonymous",
                "canonical_title": title,
                "split": split,
                "year": int(year),
                "midi_filename": f"{year}/{stem}.midi",
                "audio_filename": f"{year}/{stem}.wav",
                "duration": round(p.duration + 0.2, 6),
            }
        )
    with open(ma / "maestro-v3.0.0.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(meta[0]))
        w.writeheader()
        w.writerows(meta)
    (ma / "maestro-v3.0.0.json").write_text(json.dumps({c: {str(i): m[c] for i, m in enumerate(meta)} for c in meta[0]}))

    # --- (n)ASAP ----------------------------------------------------------------------------------------
    na = HERE / "nasap"
    shutil.rmtree(na, ignore_errors=True)
    ncols = [
        "composer",
        "title",
        "folder",
        "xml_score",
        "midi_score",
        "midi_performance",
        "performance_annotations",
        "midi_score_annotations",
        "maestro_midi_performance",
        "maestro_audio_performance",
        "start",
        "end",
        "audio_performance",
        "robust_note_alignment",
        "note_alignments",
        "parangonada_data_folder",
        "match_file",
    ]
    nrows = []
    for folder, perfname, robust, seed in (
        ("Bach/Prelude/bwv_999", "Abc01M", "1", 20),
        ("Bach/Prelude/bwv_999", "Xyz02", "1", 21),
        ("Bach/Prelude/bwv_939", "Abc03", "0", 22),
        ("Liszt/Sonata", "Def04", "1", 23),
    ):
        d = na / folder
        d.mkdir(parents=True, exist_ok=True)
        if folder != "Liszt/Sonata":  # like the three very large scores, this one's score is missing
            shutil.copy(SCORE, d / "xml_score.musicxml")
            deadpan(small).write_midi(d / "midi_score.mid", tail_sec=0.0)
        score = load_score(SCORE, unfold="maximal")
        p = perf_for_match(score.notes, seed)
        p.write_midi(d / f"{perfname}.mid", tail_sec=0.0)
        ppart = load_performance_midi(d / f"{perfname}.mid")
        # Performed ids in MIDI files are "n<k>" in the order partitura reads the notes (by onset).
        (d / f"{perfname}_note_alignments").mkdir(exist_ok=True)
        with open(d / f"{perfname}_note_alignments" / "note_alignment.tsv", "w") as f:
            f.write("xml_id\tmidi_id\ttrack\tchannel\tpitch\tonset\n")
            for k, n in enumerate(p.notes):
                f.write(f"{n['score_id']}\tn{k}\t1\t0\t{n['pitch']}\t{n['onset_sec']}\n")
            f.write(f"{score.notes[-1]['id']}\tdeletion\n")
        assert len(ppart) == len(p)
        nrows.append(
            {
                "composer": folder.split("/")[0],
                "title": folder.replace("/", "_"),
                "folder": folder,
                "xml_score": f"{folder}/xml_score.musicxml",
                "midi_score": f"{folder}/midi_score.mid",
                "midi_performance": f"{folder}/{perfname}.mid",
                "performance_annotations": f"{folder}/{perfname}_annotations.txt",
                "midi_score_annotations": f"{folder}/midi_score_annotations.txt",
                "maestro_midi_performance": "",
                "maestro_audio_performance": "",
                "start": "",
                "end": "",
                "audio_performance": "",
                "robust_note_alignment": robust,
                "note_alignments": f"{folder}/{perfname}_note_alignments/note_alignment.tsv",
                "parangonada_data_folder": f"{folder}/{perfname}_note_alignments/parangonada_data",
                "match_file": f"{folder}/{perfname}.match",
            }
        )
    with open(na / "metadata.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ncols)
        w.writeheader()
        w.writerows(nrows)

    # --- Vienna 4x22 and Batik-plays-Mozart (match files) -----------------------------------------
    vi = HERE / "vienna4x22"
    shutil.rmtree(vi, ignore_errors=True)
    for k in (1, 2, 3):
        write_match_corpus(vi, "none", f"Pianist 0{k}", "Minuet", "musicxml", f"Minuet_p0{k}", seed=30 + k)
    ba = HERE / "batik"
    shutil.rmtree(ba, ignore_errors=True)
    for m in (1, 2):
        write_match_corpus(ba, "maximal", "Roland Batik", f"kv999_{m}", "scores", f"kv999_{m}", seed=40 + m)
    # The match corpus's folder is named after the file stems, not the piece, for Batik:
    for m in (1, 2):
        assert (ba / "scores" / f"kv999_{m}.musicxml").exists()


if __name__ == "__main__":
    main()
