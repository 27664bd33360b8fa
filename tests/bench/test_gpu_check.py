"""bench/gpu_check.py, the prepared device check, runs every line on CPU at a tiny size."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_device_check_runs_on_cpu_and_says_so():
    run = subprocess.run([sys.executable, os.path.join(REPO, "bench", "gpu_check.py")], cwd=REPO,
                         capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert out.startswith("ran on CPU: no CUDA device")
    for kind, config in (("DMF", "configs/DMF/vit_finegpr.yml"), ("MMET", "configs/MMET/finegpr.yml")):
        for precision in ("fp32, SimpleTrainer", "bfloat16 autocast, AMPTrainer"):  # SOLVER.AMP
            assert f"{kind} {config} (tiny size) on CPU: batch 8, 64x32, 8 patches, {precision}" in out
    assert out.count("FLOPs a step") == 4 and out.count("paper schedule: 120 epochs") == 4
    losses = [float(line.split("relative difference ")[1].split()[0])
              for line in out.splitlines() if "bf16 vs fp32" in line]
    assert len(losses) == 4 and all(0 <= value < 0.05 for value in losses)
    assert "GFLOP" in out and " 0.0 GFLOP" not in out  # the counter saw the step's matrix products
