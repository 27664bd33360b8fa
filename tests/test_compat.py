"""Each fastreid 1.4.0 defect is reproduced with fastreid's original code, then shown fixed."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import fastreid_multimodal  # noqa: F401
from fastreid_multimodal import compat
from fastreid_multimodal.engine import load_config


def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_torch_six_and_collections_mapping_defects_and_fixes():
    bare = _python("import fastreid.data")
    assert bare.returncode != 0 and "torch._six" in bare.stderr
    six_only = _python("import sys, types; six = types.ModuleType('torch._six'); "
                       "six.string_classes = (str, bytes); sys.modules['torch._six'] = six; "
                       "import fastreid.data")
    assert six_only.returncode != 0 and "Mapping" in six_only.stderr
    fixed = _python("import fastreid_multimodal; import fastreid.data.build, fastreid.evaluation.testing")
    assert fixed.returncode == 0, fixed.stderr


def test_import_is_silent():
    out = _python("import warnings; warnings.simplefilter('default'); import fastreid_multimodal")
    assert out.returncode == 0, out.stderr
    assert out.stderr == "" and out.stdout == ""


class _Tiny(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {"images": torch.full((3, 4, 2), float(i)), "targets": i}


def test_dataloaderx_runs_on_cpu():
    from fastreid.data.build import fast_batch_collator
    from fastreid.data.data_utils import DataLoaderX
    assert not torch.cuda.is_available()
    with compat.unpatched(DataLoaderX, "__init__"), pytest.raises(Exception):
        DataLoaderX(0, dataset=_Tiny(), batch_size=2, collate_fn=fast_batch_collator)
    loader = DataLoaderX(0, dataset=_Tiny(), batch_size=2, collate_fn=fast_batch_collator)
    batches = list(loader)
    assert [b["targets"].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5]]
    assert batches[0]["images"].device.type == "cpu"


def _random_ranking_inputs(seed=0):
    rng = np.random.default_rng(seed)
    dist = rng.random((6, 20)).astype(np.float32)
    q_pids, g_pids = np.arange(6), np.repeat(np.arange(10), 2)
    q_cams, g_cams = np.zeros(6, np.int64), np.tile([0, 1], 10)
    return dist, q_pids, g_pids, q_cams, g_cams


def test_evaluator_does_not_exit_when_cython_build_fails(monkeypatch):
    from fastreid.evaluation import rank_cylib, reid_evaluation
    from fastreid.evaluation.rank import evaluate_py

    class Failed:
        returncode = 2

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(SystemExit):  # fastreid's compile helper kills the process
        compat.original(rank_cylib, "compile_helper")()
    monkeypatch.setattr(compat, "cython_ranking_available", lambda: False)
    monkeypatch.setattr(reid_evaluation.ReidEvaluator, "_compile_attempted", False, raising=False)
    cfg = load_config()
    reid_evaluation.ReidEvaluator(cfg, num_query=1)  # logs the fallback, does not exit
    assert reid_evaluation.ReidEvaluator._compile_attempted
    # the Python fallback ranks exactly like the Cython build
    from fastreid.evaluation.rank_cylib.rank_cy import evaluate_cy
    args = _random_ranking_inputs()
    cmc_py, ap_py, _ = evaluate_py(*args, max_rank=10, use_metric_cuhk03=False)
    cmc_cy, ap_cy, _ = evaluate_cy(*args, 10, False)
    np.testing.assert_allclose(cmc_py, cmc_cy, atol=1e-6)
    np.testing.assert_allclose(ap_py, ap_cy, atol=1e-6)


def test_cython_ranking_built_at_install():
    assert compat.cython_ranking_available(), "make install should build fastreid's rank_cy"


def _step_changes_weights(build_optimizer):
    cfg = load_config(opts=["SOLVER.OPT", "SGD", "SOLVER.BASE_LR", "0.1"])
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    before = model[0].weight.detach().clone()
    optimizer, _ = build_optimizer(cfg, model)
    for _ in range(2):
        loss = model(torch.ones(2, 4)).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return not torch.equal(before, model[0].weight.detach())


def test_contiguous_params_optimizer_really_steps():
    from fastreid.solver import build as solver_build
    assert not _step_changes_weights(compat.original(solver_build, "build_optimizer")), \
        "fastreid's optimizer should be the silent no-op on torch>=2"
    assert _step_changes_weights(solver_build.build_optimizer)


def test_rerank_runs_on_cpu():
    from fastreid.utils import compute_dist
    feats = torch.nn.functional.normalize(torch.randn(30, 8), dim=1)
    with pytest.raises(Exception):
        compat.original(compute_dist, "compute_jaccard_distance")(feats, k1=5, k2=3)
    dist = compute_dist.build_dist(feats[:10], feats[10:], metric="jaccard", k1=5, k2=3)
    assert dist.shape == (10, 20) and np.isfinite(dist).all()


def _amp_trainer():
    from fastreid.engine.train_loop import AMPTrainer
    model = torch.nn.Linear(4, 2)

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, data):
            return {"loss": self.net(data).float().pow(2).mean()}

    wrapped = Loss()
    data = iter([torch.ones(3, 4)] * 4)
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.5)
    return AMPTrainer, wrapped, data, optimizer


def test_amp_on_cpu_uses_bfloat16():
    from fastreid.utils.events import EventStorage
    AMPTrainer, model, data, optimizer = _amp_trainer()
    with compat.unpatched(AMPTrainer, "run_step"), EventStorage(0):
        trainer = AMPTrainer(model, data, optimizer, None)
        with pytest.raises(AssertionError, match="CUDA"):
            trainer.run_step()
    before = model.net.weight.detach().clone()
    with EventStorage(0):
        trainer = AMPTrainer(model, data, optimizer, None)
        trainer.run_step()
    assert trainer.grad_scaler is None
    assert not torch.equal(before, model.net.weight.detach())


def test_random_affine_config_builds():
    import torchvision.transforms as T
    from fastreid.data.transforms import build
    cfg = load_config(opts=["INPUT.AFFINE.ENABLED", "True"])
    with compat.unpatched(build, "T"):
        build.T = T
        with pytest.raises(TypeError):
            build.build_transforms(cfg, is_train=True)
    transform = build.build_transforms(cfg, is_train=True)
    out = transform(Image.new("RGB", (64, 128), (100, 50, 25)))
    assert out.shape == (3, 256, 128)


def test_to_tensor_numpy2_and_no_typed_storage_warning():
    import warnings
    from fastreid.data.transforms import functional
    mask = Image.fromarray(np.eye(3, 4, dtype=bool))  # mode "1": needs a copy to become uint8
    with pytest.raises(ValueError, match="copy"):
        compat.original(functional, "to_tensor")(mask)
    out = functional.to_tensor(mask)
    assert out.shape == (1, 3, 4) and out[0, 2, 2] == 255 and out[0, 0, 1] == 0
    rgb = Image.fromarray(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = functional.to_tensor(rgb)
    assert t.dtype == torch.float32 and t[:, 1, 3].tolist() == [21.0, 22.0, 23.0]


def _tiny_baseline():
    from fastreid.modeling.meta_arch import build_model
    cfg = load_config(opts=["MODEL.BACKBONE.DEPTH", "18x", "MODEL.BACKBONE.FEAT_DIM", "512",
                            "MODEL.HEADS.NUM_CLASSES", "3", "MODEL.HEADS.WITH_BNNECK", "True"])
    torch.manual_seed(0)
    return build_model(cfg).eval()


def test_flip_test_normalises_once():
    model = _tiny_baseline()
    images = torch.rand(2, 3, 64, 32) * 255
    with torch.no_grad():
        expected = model({"images": images.flip(dims=[3]).clone()})

        def flip_pass():  # what fastreid's inference_on_dataset does with TEST.FLIP
            inputs = {"images": images.clone()}
            model(inputs)
            inputs["images"] = inputs["images"].flip(dims=[3])
            return model(inputs)

        from fastreid.modeling.meta_arch.baseline import Baseline
        with compat.unpatched(Baseline, "preprocess_image"):
            assert not torch.allclose(flip_pass(), expected, atol=1e-4)
        torch.testing.assert_close(flip_pass(), expected)


def test_finished_run_has_an_epoch_for_hooks():
    from fastreid.engine.train_loop import HookBase, TrainerBase

    class ReadsEpoch(HookBase):
        def after_train(self):
            self.seen = self.trainer.epoch

    def run():
        trainer = TrainerBase()
        hook = ReadsEpoch()
        trainer.register_hooks([hook])
        trainer.train(start_epoch=3, max_epoch=3, iters_per_epoch=5)
        return hook.seen

    with compat.unpatched(TrainerBase, "train"), pytest.raises(AttributeError):
        run()
    assert run() == 2


def test_checkpoint_save_is_atomic_and_loads_numpy(tmp_path, monkeypatch):
    from fastreid.utils.checkpoint import Checkpointer
    model = torch.nn.Linear(2, 2)
    ckpt = Checkpointer(model, str(tmp_path))
    ckpt.save("model_final", extra=np.arange(3))
    good = (tmp_path / "model_final.pth").read_bytes()
    loaded = ckpt._load_file(str(tmp_path / "model_final.pth"))  # numpy inside: weights_only fails
    assert loaded["extra"].tolist() == [0, 1, 2]
    with pytest.raises(Exception):
        compat.original(Checkpointer, "_load_file")(ckpt, str(tmp_path / "model_final.pth"))

    def killed(obj, f, *a, **k):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save("model_final")
    assert (tmp_path / "model_final.pth").read_bytes() == good  # the old checkpoint survives
    with pytest.raises(KeyboardInterrupt):
        compat.original(Checkpointer, "save")(ckpt, "model_final")
    assert (tmp_path / "model_final.pth").read_bytes() == b"partial"  # fastreid's own save


def test_distributed_worker_needs_no_cuda():
    import importlib
    launch = importlib.import_module("fastreid.engine.launch")
    with pytest.raises(AssertionError, match="cuda"):
        compat.original(launch, "_distributed_worker")(0, print, 2, 2, 0, "tcp://127.0.0.1:1", ())
    assert launch._distributed_worker is compat._distributed_worker


def test_missing_dataset_message_names_layout(tmp_path, monkeypatch):
    from fastreid.data.datasets import DATASET_REGISTRY
    from fastreid.data.datasets.bases import Dataset
    from fastreid_multimodal.errors import DatasetNotFoundError
    monkeypatch.setenv("FASTREID_DATASETS", str(tmp_path))
    market = DATASET_REGISTRY.get("Market1501")
    with compat.unpatched(Dataset, "check_before_run"), pytest.raises(RuntimeError) as bare:
        market(root=str(tmp_path))
    assert "FASTREID_DATASETS" not in str(bare.value)
    with pytest.raises(DatasetNotFoundError) as exc:
        market(root=str(tmp_path))
    message = str(exc.value)
    assert "Market1501" in message and "bounding_box_train" in message
    assert str(tmp_path) in message and "make demo" in message


def test_cosine_spans_at_least_one_epoch_when_warmup_covers_the_run():
    from fastreid.solver import build as solver_build

    cfg = load_config(None, ["SOLVER.SCHED", "CosineAnnealingLR", "SOLVER.MAX_EPOCH", "1",
                             "SOLVER.WARMUP_ITERS", "20"])
    def one_epoch(build):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        cosine = build(cfg, optimizer, iters_per_epoch=44)["lr_sched"]
        optimizer.step()
        cosine.step()
        return optimizer.param_groups[0]["lr"]

    with compat.unpatched(solver_build, "build_lr_scheduler"), pytest.raises(ZeroDivisionError):
        one_epoch(solver_build.build_lr_scheduler)
    assert one_epoch(solver_build.build_lr_scheduler) == pytest.approx(cfg.SOLVER.ETA_MIN_LR)


IMAGE_PATH = ("patch_embed", "image_proj", "cls_token", "pos_embed")


def _text_only_steps(build_optimizer, opt, set_to_none=True):
    """Two optimizer steps of a tiny DMF model on captions only; image-path weights before/after."""
    from fastreid.modeling.meta_arch import build_model
    from fastreid.utils.events import EventStorage
    cfg = load_config("configs/Demo/Base-DMF-tiny.yml", [
        "MODEL.VIT.EMBED_DIM", "32", "MODEL.BACKBONE.FEAT_DIM", "32", "MODEL.VIT.DEPTH", "1",
        "MODEL.VIT.NUM_HEADS", "2", "INPUT.SIZE_TRAIN", "[32, 16]", "MODEL.TEXT.TRANSLATOR", "",
        "MODEL.HEADS.NUM_CLASSES", "2", "MODEL.DEVICE", "cpu", "SOLVER.OPT", opt,
        "SOLVER.BASE_LR", "0.01", "SOLVER.WEIGHT_DECAY", "0.01", "SOLVER.MOMENTUM", "0.9"])
    torch.manual_seed(0)
    model = build_model(cfg).train()
    optimizer, _ = build_optimizer(cfg, model)
    before = {k: v.detach().clone() for k, v in model.backbone.named_parameters()}
    ids = torch.randint(1000, 2000, (4, 6))
    batch = {"modality": torch.ones(4, dtype=torch.long), "targets": torch.tensor([0, 0, 1, 1]),
             "text_ids": ids, "text_mask": torch.ones_like(ids, dtype=torch.bool)}
    with EventStorage():
        for _ in range(2):
            optimizer.zero_grad(set_to_none=set_to_none)
            sum(model(batch).values()).backward()
            optimizer.step()
    after = dict(model.backbone.named_parameters())
    return before, after


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_idle_parameters_are_neither_decayed_nor_moved(opt):
    from fastreid.solver import build as solver_build
    before, after = _text_only_steps(solver_build.build_optimizer, opt)
    image = [k for k in before if k.startswith(IMAGE_PATH)]
    assert image and all(torch.equal(before[k], after[k]) for k in image)
    assert not torch.equal(before["text_proj.weight"], after["text_proj.weight"])  # it trained
    # fastreid's contiguous buffers (with the grads kept) decay the idle image path: Defect 18
    before, after = _text_only_steps(compat.original(solver_build, "build_optimizer"), opt,
                                     set_to_none=False)
    assert not all(torch.equal(before[k], after[k]) for k in image)


def test_prefetch_thread_error_reaches_the_consumer():
    from fastreid.data.data_utils import BackgroundGenerator

    def failing():
        yield 1
        raise OSError("image file is truncated")

    stream = BackgroundGenerator(failing(), local_rank=0)
    assert next(stream) == 1
    with pytest.raises(OSError, match="truncated"):
        next(stream)  # fastreid's own thread dies here and next() waits forever


def test_fastreid_get_cfg_knows_the_project_keys():
    from fastreid.config import get_cfg
    cfg = get_cfg()  # FastReID's own script: no add_multimodal_config call
    assert cfg.MODEL.VIT.EMBED_DIM == 768 and cfg.MODEL.TEXT.TRANSLATOR == ""
    cfg.merge_from_list(["MODEL.DMF.MODALITIES", "image", "TEST.EVALUATOR", "fastreid"])
    again = load_config(opts=["MODEL.VIT.DEPTH", "2"])  # explicit use still works
    assert again.MODEL.VIT.DEPTH == 2


def test_stale_temp_files_of_killed_saves_are_removed(tmp_path):
    from fastreid_multimodal.engine.trainer import remove_stale_temp_files
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / f"model_0004.pth.tmp.{dead}").write_bytes(b"partial")
    (tmp_path / f"model_0005.pth.tmp.{os.getpid()}").write_bytes(b"being written")
    remove_stale_temp_files(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"model_0005.pth.tmp.{os.getpid()}"]
