"""The listening-test page (one self-contained HTML file beside ``audio/``) and the demo page.

The test page holds only file names: which file is which system lives in ``key.csv``, outside the
page. It asks for a listener id, seeds a shuffle with it (trial order and the order of the stimuli in
a trial, so two listeners hear different orders and one listener the same order again), shows a
training page, then the trials:

- MUSHRA (ITU-R BS.1534-3): per excerpt, the open reference and every condition (the systems, the
  hidden reference, the 3.5 kHz anchor) with a 0-100 slider each;
- MOS (ITU-R P.800 ACR): one stimulus per page, rated 1 (bad) to 5 (excellent) for naturalness.

Play/stop per stimulus, a loop switch, and no "next" before every stimulus on the page has been played
(to 90 % of its length). The answers are offered as JSON and CSV downloads and, when the page is
served by ``listening-test serve``, sent to it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from deepperformer.core.atomic import write_text

MOS_LABELS = {5: "Excellent", 4: "Good", 3: "Fair", 2: "Poor", 1: "Bad"}


def trials(config, stimuli) -> list[dict]:
    """The page's trials: MUSHRA {"id", "reference", "items"} per excerpt; MOS {"id", "items": [one file]} per stimulus."""
    out = []
    for k, ex in enumerate(config.excerpts, 1):
        mine = [st for st in stimuli if st.excerpt == ex.id]
        if config.mode == "mushra":
            ref = next(st.file for st in mine if st.role == "reference")
            items = [st.file for st in mine if st.role in ("system", "hidden-reference", "anchor")]
            out.append({"id": f"t{k}", "reference": ref, "items": items})
        else:
            out += [{"id": f"t{k}.{j}", "items": [st.file]} for j, st in enumerate((s for s in mine if s.role == "system"), 1)]
    return out


def write_test_page(path: Path, config, stimuli) -> None:
    data = {
        "name": config.name,
        "mode": config.mode,
        "trials": trials(config, stimuli),
        "instructions": config.instructions,
        "mos_labels": MOS_LABELS,
    }
    text = PAGE.replace("__TITLE__", html.escape(config.name)).replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
    write_text(path, text)


def write_demo_page(out: Path, config, stimuli, audio_dir: Path, sample_rate: int) -> None:
    """A grid like the paper's demo page: excerpts x systems, each cell a player and its mel spectrogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepperformer.audio.mel import MelConfig, log_mel

    (out / "audio").mkdir(parents=True, exist_ok=True)
    (out / "mel").mkdir(parents=True, exist_ok=True)
    shown = [st for st in stimuli if st.role in ("system", "reference")]
    systems = list(dict.fromkeys(st.system for st in shown))
    rows = []
    for ex in config.excerpts:
        cells = []
        for name in systems:
            st = next((s for s in shown if s.excerpt == ex.id and s.system == name), None)
            if st is None:
                cells.append("<td></td>")
                continue
            stem = f"{ex.id}__{name}".replace("/", "_").replace(" ", "_")
            wav, png = out / "audio" / f"{stem}.wav", out / "mel" / f"{stem}.png"
            wav.write_bytes((audio_dir / st.file).read_bytes())
            mel = log_mel(st.audio, MelConfig())
            fig, ax = plt.subplots(figsize=(3.2, 1.6), dpi=100)
            ax.imshow(mel.T, origin="lower", aspect="auto", cmap="magma")
            ax.set_axis_off()
            fig.tight_layout(pad=0)
            fig.savefig(png)
            plt.close(fig)
            cells.append(
                f'<td><audio controls preload="none" src="audio/{wav.name}"></audio><br><img src="mel/{png.name}" alt="mel"></td>'
            )
        rows.append(f"<tr><th>{html.escape(ex.id)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(s)}</th>" for s in systems)
    write_text(
        out / "index.html",
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(config.name)}: samples</title>"
        "<style>body{font-family:sans-serif}td,th{padding:6px;vertical-align:top}img{width:320px}</style></head>"
        f"<body><h1>{html.escape(config.name)}</h1><table><tr><th></th>{head}</tr>{''.join(rows)}</table></body></html>",
    )


PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
.stim{display:flex;align-items:center;gap:1em;margin:.5em 0}
.stim button{min-width:7em}.played{color:#080}
input[type=range]{width:20em}
#next:disabled,#submit:disabled{opacity:.4}
.mos label{margin-right:1em}
</style></head><body>
<h1>__TITLE__</h1>
<div id="app"></div>
<script id="test-data" type="application/json">__DATA__</script>
<script>
"use strict";
const T = JSON.parse(document.getElementById("test-data").textContent);
const app = document.getElementById("app");
const state = {listener: "", order: [], page: -1, answers: [], started: null};
let current = null;  // the <audio> playing
const loop = {on: false};
// ?rate=N plays N times faster: for automated checks of the page only (listeners never get it)
const RATE = Number(new URLSearchParams(location.search).get("rate")) || 1;

function mulberry32(a){return function(){a|=0;a=a+0x6D2B79F5|0;let t=Math.imul(a^a>>>15,1|a);
  t=t+Math.imul(t^t>>>7,61|t)^t;return((t^t>>>14)>>>0)/4294967296;};}
function seedOf(s){let h=2166136261;for(const c of s){h^=c.charCodeAt(0);h=Math.imul(h,16777619);}return h>>>0;}
function shuffle(xs, rnd){const a=xs.slice();
  for(let i=a.length-1;i>0;i--){const j=Math.floor(rnd()*(i+1));[a[i],a[j]]=[a[j],a[i]];}return a;}
function el(tag, attrs, ...kids){const e=document.createElement(tag);Object.assign(e, attrs||{});
  for(const k of kids) e.append(k); return e;}

function player(file, onPlayed){
  const audio = new Audio("audio/" + file); audio.preload = "auto"; audio.playbackRate = RATE;
  const btn = el("button", {type: "button", textContent: "Play"});
  const mark = el("span", {textContent: ""});
  let played = false;
  audio.addEventListener("timeupdate", () => {
    if (!played && audio.duration && audio.currentTime >= 0.9 * audio.duration) {played = true; mark.textContent = "played";
      mark.className = "played"; onPlayed();}});
  audio.addEventListener("ended", () => {btn.textContent = "Play";});
  btn.onclick = () => {
    if (current && current !== audio) {current.pause(); current.currentTime = 0; current._btn.textContent = "Play";}
    if (audio.paused) {audio.loop = loop.on; audio.playbackRate = RATE; audio.play(); btn.textContent = "Stop"; current = audio;}
    else {audio.pause(); audio.currentTime = 0; btn.textContent = "Play";}
  };
  audio._btn = btn;
  return {btn, mark, isPlayed: () => played};
}

function start(){
  app.replaceChildren(
    el("p", {innerHTML: T.instructions || (T.mode === "mushra"
      ? "Each page plays a <b>reference</b> and several versions of the same music. Rate how close each version is " +
        "to the reference, from 0 (bad) to 100 (excellent). One version is the reference itself: rate it 100."
      : "Each page plays one short piece of music. Rate how natural it sounds, as a performance on a real instrument, " +
        "from 1 (bad) to 5 (excellent).")}),
    el("p", {}, "Use headphones in a quiet room. Play every version to its end before you go on."),
    el("label", {}, "Your listener id: ", el("input", {id: "listener", type: "text"})),
    el("p", {}, el("button", {id: "begin", type: "button", textContent: "Begin (training page first)", onclick: begin})));
}

function begin(){
  const id = document.getElementById("listener").value.trim();
  if (!id) {alert("Please enter your listener id."); return;}
  state.listener = id; state.started = new Date().toISOString();
  const rnd = mulberry32(seedOf(id));
  state.order = shuffle(T.trials, rnd).map(t => ({...t, items: shuffle(t.items, rnd)}));
  training();
}

function loopSwitch(){
  const box = el("input", {type: "checkbox", checked: loop.on, onchange: () => {loop.on = box.checked;
    if (current) current.loop = loop.on;}});
  return el("label", {}, box, " loop");
}

function training(){
  const t = T.trials[0];
  const files = t.reference ? [t.reference, t.items[t.items.length - 1]] : T.trials.slice(0, 3).map(x => x.items[0]);
  const rows = files.map(f => {const p = player(f, () => {}); return el("div", {className: "stim"}, p.btn, p.mark);});
  app.replaceChildren(el("h2", {textContent: "Training"}),
    el("p", {}, "Listen to these to get used to the sound and the range of quality. Nothing is rated here."),
    loopSwitch(), ...rows, el("p", {}, el("button", {id: "next", type: "button", textContent: "Start the test",
      onclick: () => {state.page = 0; show();}})));
}

function show(){
  if (current) {current.pause(); current = null;}
  if (state.page >= state.order.length) return finish();
  const t = state.order[state.page];
  const next = el("button", {id: "next", type: "button", textContent: "Next", disabled: true});
  const players = [], inputs = [];
  const check = () => {next.disabled = !(players.every(p => p.isPlayed()) && inputs.every(i => i.touched()));};
  const rows = [];
  if (t.reference) {const p = player(t.reference, check); players.push(p);
    rows.push(el("div", {className: "stim"}, el("b", {textContent: "Reference"}), p.btn, p.mark));}
  t.items.forEach((file, k) => {
    const p = player(file, check); players.push(p);
    if (T.mode === "mushra") {
      const r = el("input", {type: "range", min: 0, max: 100, value: 50, className: "rating"});
      const v = el("span", {textContent: "50"});
      let moved = false;
      r.oninput = () => {moved = true; v.textContent = r.value; check();};
      inputs.push({touched: () => moved, value: () => Number(r.value), file});
      rows.push(el("div", {className: "stim"}, el("span", {textContent: String.fromCharCode(65 + k)}), p.btn, r, v, p.mark));
    } else {
      const group = "mos-" + t.id;
      const radios = [5, 4, 3, 2, 1].map(s => el("label", {}, el("input", {type: "radio", name: group, value: s,
        className: "rating", onchange: check}), ` ${s} ${T.mos_labels[s]}`));
      const chosen = () => {const c = document.querySelector(`input[name="${group}"]:checked`);
        return c ? Number(c.value) : null;};
      inputs.push({touched: () => chosen() !== null, value: chosen, file});
      rows.push(el("div", {className: "stim"}, p.btn, p.mark), el("div", {className: "mos"}, ...radios));
    }
  });
  next.onclick = () => {
    for (const i of inputs) state.answers.push({trial: t.id, file: i.file, score: i.value()});
    state.page += 1; show();
  };
  app.replaceChildren(el("h2", {textContent: `Page ${state.page + 1} of ${state.order.length}`}), loopSwitch(), ...rows,
    el("p", {}, next));
}

function result(){
  return {test: T.name, mode: T.mode, listener: state.listener, started: state.started,
    finished: new Date().toISOString(), ratings: state.answers};
}

function download(name, text, type){
  const a = el("a", {href: URL.createObjectURL(new Blob([text], {type})), download: name});
  document.body.append(a); a.click(); a.remove();
}

function finish(){
  const r = result();
  const csv = "listener,trial,file,score\n" +
    r.ratings.map(x => [r.listener, x.trial, x.file, x.score].join(",")).join("\n") + "\n";
  const status = el("p", {id: "status"});
  const stem = `answers_${r.listener.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  app.replaceChildren(el("h2", {textContent: "Thank you"}),
    el("p", {}, "Save your answers and send them to the experimenter:"),
    el("p", {}, el("button", {id: "save-json", type: "button", textContent: "Download answers (JSON)",
      onclick: () => download(stem + ".json", JSON.stringify(r, null, 1), "application/json")}), " ",
      el("button", {id: "save-csv", type: "button", textContent: "Download answers (CSV)",
      onclick: () => download(stem + ".csv", csv, "text/csv")})),
    status);
  window.testResult = r;
  if (location.protocol.startsWith("http")) {
    fetch("submit", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(r)})
      .then(resp => resp.text().then(t => {status.textContent = resp.ok ? "Answers received by the server." : "Server: " + t;}))
      .catch(e => {status.textContent = "Could not reach the server (" + e + "): please download your answers.";});
  }
}

start();
</script></body></html>
"""
