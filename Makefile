# Quick start:  make demo   (creates .venv when missing, then runs the main job)
#               make test   (creates .venv when missing, then runs the test suite)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= ../shared/data

.PHONY: venv demo test test-slow prepare-bach-violin prepare-synthetic prepare-synthetic-9h prepare-synthetic-24h prepare-synthetic-violin-4h prepare-renderer-piano prepare-renderer-violin check-scores clean

venv: $(STAMP)

# Re-install only when the package's dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The main job: synthesize the shipped example score to a WAV with the shipped checkpoints (piano,
# then the melody on the violin), with the predicted mel above the notes as PNG beside each.
demo: $(STAMP)
	$(BIN)/deepperformer synthesize data/examples/minuet_in_g.krn -o out/demo_piano.wav --instrument piano --png
	$(BIN)/deepperformer synthesize data/examples/minuet_in_g_violin.krn -o out/demo_violin.wav --instrument violin --png

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

prepare-bach-violin: $(STAMP)
	$(BIN)/deepperformer prepare bach-violin $(DATA)/bach-violin -o prepared/bach-violin --workers 2 \
		--splits data/splits/bach-violin.json

prepare-synthetic: $(STAMP)
	$(BIN)/deepperformer prepare synthetic $(DATA) -o prepared/synthetic --workers 2 \
		--splits data/splits/synthetic.json

# Four times the synthetic piano audio for the piano acoustic model (recipes/synthetic/acoustic_piano_9h.yaml;
# about 15 min), the held-out pieces of the 2.2-h corpus kept held out (data/splits/synthetic-9h.json holds them and the new ones).
prepare-synthetic-9h: $(STAMP)
	$(BIN)/deepperformer prepare synthetic $(DATA) -o prepared/synthetic-9h --workers 2 --piano-hours 9 \
		--violin-hours 0 --splits data/splits/synthetic-9h.json

# 24 h of synthetic piano (recipes/synthetic/acoustic_piano_24h.yaml; 14 min with 2 workers here, session 17), the
# held-out pieces of the 9-h corpus kept held out (data/splits/synthetic-24h.json holds them and the new ones).
prepare-synthetic-24h: $(STAMP)
	$(BIN)/deepperformer prepare synthetic $(DATA) -o prepared/synthetic-24h --workers 2 --piano-hours 24 \
		--violin-hours 0 --splits data/splits/synthetic-24h.json

# 4 h of synthetic violin (FluidSynth playing the Bach Violin Dataset's aligned notes) to pretrain the
# violin acoustic model before its fine-tuning on the real audio (recipes/synthetic/acoustic_violin_4h.yaml;
# about 3 min with 2 workers). data/splits/synthetic-violin-4h.json keeps out of train the real corpus's held-out
# movements and the synthetic corpus's.
prepare-synthetic-violin-4h: $(STAMP)
	$(BIN)/deepperformer prepare synthetic $(DATA) -o prepared/synthetic-violin-4h --workers 2 --piano-hours 0 \
		--violin-hours 4 --splits data/splits/synthetic-violin-4h.json

# The aligned piano corpora the renderer learns from ((n)ASAP, Vienna 4x22, Batik; about 40 min here).
prepare-renderer-piano: $(STAMP)
	$(BIN)/deepperformer prepare nasap $(DATA)/nasap -o prepared/nasap --workers 2 --splits data/splits/nasap.json
	$(BIN)/deepperformer prepare vienna4x22 $(DATA)/vienna4x22 -o prepared/vienna4x22 --workers 2 \
		--splits data/splits/vienna4x22.json
	$(BIN)/deepperformer prepare batik $(DATA)/batik -o prepared/batik --workers 2 --splits data/splits/batik.json

# The violin renderer's corpus: all 105 Bach Violin movements' alignments against their MusicXML (about 5 min).
prepare-renderer-violin: $(STAMP)
	$(BIN)/deepperformer prepare bach-violin-timing $(DATA)/bach-violin -o prepared/bach-violin-timing --workers 2 \
		--splits data/splits/bach-violin-timing.json

check-scores: $(STAMP)
	$(BIN)/deepperformer check-scores $(DATA) -o prepared/score-check.csv

clean:
	rm -rf out build *.egg-info
