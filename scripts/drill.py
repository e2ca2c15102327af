"""Kill drill: SIGKILL studies at random moments on both backends, resume them, and count the damage.

    python scripts/drill.py [--kills-local 12] [--kills-ray 10] [--seed 0] [--keep DIR]

Each cycle starts ``nasbench study`` (a local-backend study and a Ray study, each into its own results
folder, both on Darcy Flow generated on demand with the fast approximate process into the drill's own
data folder), waits a random time and SIGKILLs the study's driver; some Ray cycles kill a Ray worker
running a trial instead. Moments are drawn so that some kills land during data generation (the local
study's first cycles: the data do not exist yet) and some during Ray start-up (the Ray study's first
cycles). After each kill the drill waits 10 s and counts the processes still alive that the study
started (every process it starts carries the environment variable ``NASBENCH_DRILL=<token>``, which
children inherit, Ray's included) and checks that the study's Ray temporary folder is gone. At the end
each study is resumed without kills until it finishes.

Reported (and checked; exit 1 if one is not zero):
- lost: a run that was finished (ok) at some snapshot and later is absent or not ok;
- recomputed: a finished run whose manifest changed afterwards (a new ``finished_at``);
- duplicated: a run computed to ok more than once (``trials.jsonl`` lines, one per computed run);
- processes left 10 s after a kill, and Ray temporary folders left;
- runs not finished after the final resume.
On the shared 2-core machine of the suite's development, 22 kills take about 15-20 minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's nasbench, when not installed

from nasbench import schema  # noqa: E402
from nasbench.execution.reaper import PREFIX, marked_processes  # noqa: E402

MARK = "NASBENCH_DRILL"
# enough samples that generating them takes seconds (kills land in it); few batches so runs take seconds too
TASK = {"darcyflow": {"source": "generated-approx", "n_train": 160, "n_val": 20, "n_test": 20}}
METHODS = {"wrn": {"train.batches_per_epoch": 4}, "ccnn": {}}
SETTLE_S = 10.0
RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")


def write_study(root: Path, name: str) -> Path:
    body = {"budget": "smoke", "seeds": [0, 1], "methods": METHODS, "tasks": TASK,
            "resources": {"cpus": 1}, "results": str(root / "results" / name)}
    path = root / "reports" / name / "study.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))  # JSON is YAML
    return path


class Drill:
    def __init__(self, root: Path, seed: int):
        self.root, self.rng, self.token = root, random.Random(seed), uuid.uuid4().hex[:12]
        self.env = {**os.environ, "NASBENCH_DATA": str(root / "data"), MARK: self.token}
        self.seen_ok: dict[str, dict[str, str]] = {}  # results/key -> identity of the finished run
        self.lost: set[str] = set()
        self.recomputed: set[str] = set()
        self.kills: list[dict] = []

    # -- one cycle ---------------------------------------------------------------------------------
    def start(self, study: Path, backend: str, log: Path) -> subprocess.Popen:
        handle = open(log, "w")
        return subprocess.Popen([sys.executable, "-m", "nasbench", "study", str(study), "--backend", backend],
                                env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)

    def cycle(self, study: Path, backend: str, index: int) -> dict:
        log = self.root / "logs" / f"{backend}-{index:02d}.log"
        log.parent.mkdir(exist_ok=True)
        process, started = self.start(study, backend, log), time.monotonic()
        target = self.choose_moment(backend, index, process, log)
        phase = self.phase(backend, process, log) if process.poll() is None else "finished before the kill"
        victim = process.pid
        if target == "worker" and process.poll() is None:
            workers = self.trial_workers()
            victim = workers[0] if workers else process.pid
            target = "worker" if workers else "driver"
        if process.poll() is None:
            os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic() - started
        if victim != process.pid:  # a killed worker: the study records the run failed and goes on; stop it too
            time.sleep(self.rng.uniform(1, 5))
            if process.poll() is None:
                process.kill()
        process.wait()
        time.sleep(SETTLE_S)
        left = [pid for pid in marked_processes(self.token, MARK)]
        folder = Path(tempfile.gettempdir()) / f"{PREFIX}{process.pid}"
        record = {"backend": backend, "index": index, "target": target, "at_s": round(killed_at, 1),
                  "phase": phase, "left_after_10s": len(left), "left": [_cmdline(p)[:60] for p in left],
                  "ray_folder_left": folder.exists()}
        self.snapshot()
        self.kills.append(record)
        return record

    def choose_moment(self, backend: str, index: int, process: subprocess.Popen, log: Path) -> str:
        """Wait until the moment of the kill; return what to kill ("driver" or "worker")."""
        if backend == "local" and index < 3 and not self.data_complete():
            _wait(lambda: "generating" in log.read_text() or process.poll() is not None, 240)
            time.sleep(self.rng.uniform(0.5, 4.0))  # during the generation of the data
        elif backend == "ray" and index < 3:
            time.sleep(self.rng.uniform(1.0, 8.0))  # while Ray starts
        elif backend == "ray" and index % 3 == 2:
            _wait(lambda: self.trial_workers() or process.poll() is not None, 240)
            time.sleep(self.rng.uniform(0.5, 6.0))
            return "worker"
        else:
            time.sleep(self.rng.uniform(2.0, 40.0))
        return "driver"

    def phase(self, backend: str, process: subprocess.Popen, log: Path) -> str:
        text = log.read_text()
        if "generating" in text and not self.data_complete():
            return "data generation"
        names = [_cmdline(p) for p in marked_processes(self.token, MARK)]
        if backend == "ray" and not any(n.startswith("ray::") and n not in RAY_AGENTS for n in names):
            return "ray start-up"  # no Ray worker yet
        return "running runs"

    def trial_workers(self) -> list[int]:
        """Ray workers running a trial (process title ``ray::<actor>``, not an agent nor an idle worker)."""
        return [p for p in marked_processes(self.token, MARK)
                if _cmdline(p).startswith("ray::") and _cmdline(p) not in (*RAY_AGENTS, "ray::IDLE")]

    def data_complete(self) -> bool:
        folder = self.root / "data" / "nb360" / "darcyflow" / "generated"
        return len(list(folder.glob("piececonst_approx_*_smooth*.mat"))) >= 2

    # -- the record ----------------------------------------------------------------------------------
    def snapshot(self) -> None:
        """Compare every finished run with what was seen before: lost or recomputed runs are counted."""
        current: dict[str, dict[str, str]] = {}
        for path in (self.root / "results").glob(f"*/{schema.RUN_GLOB}"):
            try:
                manifest = json.loads(path.read_text())
            except ValueError:
                continue
            if manifest.get(schema.STATUS) == schema.STATUS_OK:
                key = str(path.parent.relative_to(self.root / "results"))
                current[key] = {"run_id": manifest[schema.RUN_ID], "finished_at": manifest.get("finished_at"),
                                "started_at": manifest.get("started_at")}
        for key, identity in self.seen_ok.items():
            if key not in current:
                self.lost.add(key)
            elif current[key] != identity:
                self.recomputed.add(key)
        for key, identity in current.items():
            self.seen_ok.setdefault(key, identity)

    def duplicated(self) -> list[str]:
        counts = Counter()
        for log in (self.root / "results").glob("*/trials.jsonl"):
            for line in log.read_text().splitlines():
                entry = json.loads(line)
                if entry["status"] == schema.STATUS_OK:
                    counts[f"{log.parent.name}/{entry['task']}/{entry['method']}/seed={entry['seed']}"] += 1
        return sorted(key for key, n in counts.items() if n > 1)

    def finish(self, study: Path, backend: str) -> tuple[int, str]:
        log = self.root / "logs" / f"{backend}-final.log"
        process = self.start(study, backend, log)
        process.wait(timeout=1800)
        self.snapshot()
        return process.returncode, log.read_text()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _wait(condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills-local", type=int, default=12)
    parser.add_argument("--kills-ray", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="nasbench-drill-"))
    root.mkdir(parents=True, exist_ok=True)
    drill = Drill(root, args.seed)
    studies = {"local": write_study(root, "drill-local"), "ray": write_study(root, "drill-ray")}
    start = time.monotonic()
    order = ["local"] * args.kills_local + ["ray"] * args.kills_ray
    done = Counter()
    for backend in order:
        record = drill.cycle(studies[backend], backend, done[backend])
        done[backend] += 1
        print(json.dumps(record), flush=True)
    finals = {backend: drill.finish(path, backend) for backend, path in studies.items()}
    unfinished = 8 - sum(1 for key in drill.seen_ok)  # 2 studies x 2 methods x 2 seeds
    left = sum(k["left_after_10s"] for k in drill.kills)
    folders = sum(k["ray_folder_left"] for k in drill.kills)
    survived = sum(1 for k in drill.kills if not k["left_after_10s"] and not k["ray_folder_left"])
    phases = Counter(f"{k['backend']}: {k['phase']} ({k['target']})" for k in drill.kills)
    summary = {
        "kills": len(drill.kills), "kills_survived": survived if not (drill.lost or drill.recomputed) else None,
        "runs_lost": len(drill.lost), "runs_duplicated": len(drill.duplicated()),
        "runs_recomputed": len(drill.recomputed),
        "processes_left_after_10s": left, "ray_temp_folders_left": folders, "runs_not_finished": unfinished,
        "final_exit_codes": {b: code for b, (code, _) in finals.items()}, "kill_moments": dict(phases),
        "wall_s": round(time.monotonic() - start), "folder": str(root),
    }
    print(json.dumps(summary, indent=2))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    bad = (drill.lost or drill.recomputed or drill.duplicated() or left or folders or unfinished
           or any(code != 0 for code, _ in finals.values()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
