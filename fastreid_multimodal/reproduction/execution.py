"""Training the planned runs of a table: each one a tools/ process, ``jobs`` at a time with the
CPU threads split between them; a run finished meanwhile (by another reproduction sharing it) is
not trained again, a run that tests another's model waits for it (the runs behind it go first),
and a failure stops the queue.
"""
import os
import subprocess
import time

from .planning import prepare_synthetic_data


def _child_env(jobs):
    env = dict(os.environ)
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    return env


def execute(runs, jobs=1, log=print):
    """Train every run without results, ``jobs`` at a time. With jobs > 1 each run's console
    goes to <run>/console.log. Returns {output_dir: seconds} of the runs trained now."""
    todo, planned = [], set()
    for run in runs:
        if run.done:
            log(f"skip (done): {run.row} seed {run.seed} -> {run.output_dir}")
        elif run.recorded:
            log(f"skip (in the results JSON): {run.row} seed {run.seed}")
        elif run.output_dir not in planned:
            planned.add(run.output_dir)
            todo.append(run)
    if jobs > 1 and todo:
        prepare_synthetic_data(todo)
    env, active, seconds, failed = _child_env(jobs), [], {}, []

    def finish(entry):
        run, proc, started, console = entry
        proc.wait()
        active.remove(entry)
        if console:
            console.close()
        seconds[run.output_dir] = time.time() - started
        state = "done" if proc.returncode == 0 else f"FAILED ({proc.returncode})"
        log(f"{state}: {run.row} seed {run.seed} in {seconds[run.output_dir]:.0f} s")
        if proc.returncode != 0:
            failed.append(run)

    def waiting(run):  # its model is still being trained
        return any(entry[0].output_dir == run.after for entry in active)

    while todo:
        while True:
            # the first run in plan order whose training is not running: a run that tests a
            # model in training lets the runs behind it go first
            run = next((r for r in todo if not waiting(r)), None)
            if run is not None and len(active) < jobs:
                break
            ended = [entry for entry in active if entry[1].poll() is not None]
            for entry in ended:
                finish(entry)
            if not ended:
                time.sleep(1)
        todo.remove(run)
        if failed:  # no new runs after a failure; the running ones finish
            break
        if run.done:  # finished meanwhile by another reproduction sharing the run
            log(f"skip (done meanwhile): {run.row} seed {run.seed} -> {run.output_dir}")
            continue
        log(f"run: {run.row} seed {run.seed}\n  + {' '.join(run.command)}")
        console = None
        if jobs > 1:
            os.makedirs(run.output_dir, exist_ok=True)
            console = open(os.path.join(run.output_dir, "console.log"), "a")
        proc = subprocess.Popen(run.command, env=env, stdout=console, stderr=console)
        active.append((run, proc, time.time(), console))
    for entry in list(active):
        finish(entry)
    if failed:
        where = "console.log" if jobs > 1 else "log.txt"
        raise SystemExit("runs failed: " + "; ".join(
            f"{run.row} seed {run.seed} (see {run.output_dir}/{where})" for run in failed))
    return seconds
