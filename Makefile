# Two entry points, each sets up .venv on first use:
#   make demo   run the main job
#   make test   run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# make demo DATA=folder  uses real records from that folder instead of synthetic examples
DATA   ?=

APP    := src/pocketecg/app
ORT    := $(APP)/node_modules/onnxruntime-web/dist
VENDOR := $(APP)/web/vendor

.PHONY: demo test venv web web-if-possible examples serve clean

$(BIN)/pocketecg: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first: the pinned CPU build on this machine's disk, never the multi-GB CUDA one.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/pocketecg

venv: $(BIN)/pocketecg

# The phone page's runtime: onnxruntime-web, dicom-parser and the FLAC decoder from npm (pinned in package-lock.json),
# never from a CDN.
$(VENDOR)/.installed: $(APP)/package.json $(APP)/package-lock.json | $(BIN)/pocketecg
	cd $(APP) && npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(VENDOR)
	cp $(ORT)/ort.wasm.bundle.min.mjs $(ORT)/ort-wasm-simd-threaded.wasm $(VENDOR)/
	cp $(APP)/node_modules/dicom-parser/dist/dicomParser.min.js $(VENDOR)/
	# libFLAC in WASM (MIT); UMD, so the page loads it as a classic script (window["flac-decoder"])
	cp $(APP)/node_modules/@wasm-audio-decoders/flac/dist/flac-decoder.min.js $(VENDOR)/
	# brotli 11 of the 14 MB runtime, once here rather than in the first site build
	$(BIN)/python -c "from pocketecg.app.site import precompress_vendor; precompress_vendor()"
	touch $@

web: $(VENDOR)/.installed

# Tests need the runtime for the browser tests; without npm they are skipped (and say why).
web-if-possible:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory web; \
	else echo "npm not found: the phone app's browser tests will be skipped (apt-get install npm)"; fi

# The page's real examples: 7 PTB-XL records (CC BY 4.0) from PhysioNet, checked by SHA-256 (needs internet).
examples: venv
	$(BIN)/pocketecg examples

serve: venv web
	$(BIN)/pocketecg serve

demo: venv
	$(BIN)/pocketecg demo --out reports/demo $(if $(DATA),--data $(DATA))

test: venv web-if-possible
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache $(APP)/node_modules $(VENDOR) $(APP)/examples-data
