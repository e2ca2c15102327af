"""Feed the command line bad inputs, the way a careless user or a broken environment would, and print
one table row per input: the command, its exit code, the first line it printed, and whether the rule
held (a user's mistake or a broken environment: exit 2, one or two lines, no traceback; an
interruption: 130; runs that ran and failed: 1). A finished run in the same results folder must come
through every input untouched; the script checks that at the end.

    python scripts/bad_inputs.py [--keep DIR]      # markdown table on stdout; exit 1 if a rule broke

Everything happens in a temporary folder: its own data root (Darcy Flow generated with the fast
approximate process), results folders, study files and a fake installed plugin distribution whose
entry point does not import. About 5 minutes on a loaded 2-core machine (every case is a fresh process).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

NASBENCH = [sys.executable, "-m", "nasbench"]
SMOKE = ["--budget", "smoke", "--set", "task.source=generated-approx"]


@dataclass
class Case:
    label: str
    args: list[str]
    expect: int = 2
    setup: str | None = None  # name of a function run just before the case
    interrupt_after: str | None = None  # send SIGINT once this text appears in the output
    env: dict | None = None


def cases(root: Path) -> list[Case]:
    r, f = str(root / "results"), str(root / "a-file")
    study = lambda name: str(root / "studies" / name / "study.yaml")  # noqa: E731
    run = ["run", "wrn", "darcyflow", *SMOKE, "--results", r]
    return [
        Case("unknown method", ["run", "wrm", "darcyflow", "--results", r]),
        Case("unknown task", ["run", "wrn", "darcyflo", "--results", r]),
        Case("unknown budget", ["run", "wrn", "darcyflow", "--budget", "huge", "--results", r]),
        Case("negative seed", [*run, "--seed", "-1"]),
        Case("--device foo", [*run, "--device", "foo"]),
        Case("--device cuda on a CPU-only build", [*run, "--device", "cuda"]),
        Case("--device cuda:7", [*run, "--device", "cuda:7"]),
        Case("--device tpu", [*run, "--device", "tpu"]),
        Case("--results is a file", ["run", "wrn", "darcyflow", *SMOKE, "--results", f]),
        Case("--results cannot be created (/proc)", ["run", "wrn", "darcyflow", *SMOKE, "--results", "/proc/nasbench"]),
        Case("--results on a read-only filesystem (/sys)", ["run", "wrn", "darcyflow", *SMOKE, "--results",
                                                              "/sys/nasbench-results"]),
        Case("train.momentum=-3", [*run, "--set", "train.momentum=-3"]),
        Case("train.lr=0", [*run, "--set", "train.lr=0"]),
        Case("train.lr=oops", [*run, "--set", "train.lr=oops"]),
        Case("train.batch_size=0", [*run, "--set", "train.batch_size=0"]),
        Case("train.weight_decay=-1", [*run, "--set", "train.weight_decay=-1"]),
        Case("train.grad_clip=-1", [*run, "--set", "train.grad_clip=-1"]),
        Case("train.epochs=1.5", [*run, "--set", "train.epochs=1.5"]),
        Case("train.optimizer=rmsprop", [*run, "--set", "train.optimizer=rmsprop"]),
        Case("unknown key", [*run, "--set", "trian.lr=0.1"]),
        Case("a section set as a value", [*run, "--set", "train=3"]),
        Case("override without =", [*run, "--set", "garbage"]),
        Case("task.n_train=0", [*run, "--set", "task.n_train=0"]),
        Case("finished run, different config", [*run, "--set", "train.lr=0.0123"]),
        Case("data: unknown task", ["data", "darcyflo", "--path"]),
        Case("data: generate a task without a generator", ["data", "cifar10", "--generate"]),
        Case("data: download a task without a download", ["data", "retrieval", "--download"]),
        Case("sidecar without \"n\": --verify", ["data", "darcyflow", *SMOKE, "--verify"], setup="sidecar_no_n"),
        Case("sidecar not JSON: --verify", ["data", "darcyflow", *SMOKE, "--verify"], setup="sidecar_not_json"),
        Case("sidecar empty: --verify", ["data", "darcyflow", *SMOKE, "--verify"], setup="sidecar_empty"),
        Case("sidecar empty: a run (no silent regeneration)", [*run, "--seed", "3"], setup="sidecar_empty"),
        Case("study: file not found", ["study", str(root / "nope.yaml"), "--backend", "local"]),
        Case("study: not YAML", ["study", study("notyaml"), "--backend", "local"]),
        Case("study: unknown method", ["study", study("unknown"), "--backend", "local"]),
        Case("study: unknown backend", ["study", study("good"), "--backend", "dask"]),
        Case("study: --address with local",
             ["study", study("good"), "--backend", "local", "--address", "1.2.3.4:6379"]),
        Case("study: nothing listens at --address", ["study", study("good"), "--address", "127.0.0.1:1"]),
        Case("study: --results is a file", ["study", study("good"), "--backend", "local", "--results", f]),
        Case("report: folder not found", ["report", str(root / "nothing-here")]),
        Case("report: truncated manifest", ["report", str(root / "truncated"), "--out", str(root / "truncated-report"),
                                            "--include-fixture", "--bootstrap", "10"], expect=0, setup="truncate"),
        Case("check: unknown budget", ["check", "--budget", "huge"]),
        Case("check: a broken plugin entry point", ["check", "--budget", "smoke"], expect=0,
             env={"PYTHONPATH": str(root / "broken-plugin")}),
        Case("perf: unknown benchmark", ["perf", "nosuch"]),
        Case("a run that fails (diverges)", [*run, "--seed", "5", "--set", "train.lr=1e30"], expect=1),
        Case("Ctrl-C during a run", [*run, "--seed", "7"], expect=130, interrupt_after="[retrain"),
    ]


# -- the scene -----------------------------------------------------------------------------------
def build_scene(root: Path, env: dict) -> Path:
    """Data, a finished run, study files, a corrupt results folder and a broken plugin distribution."""
    (root / "a-file").write_text("not a folder\n")
    _nasbench(["data", "darcyflow", "--generate", *SMOKE], env, check=True)
    _nasbench(["run", "wrn", "darcyflow", *SMOKE, "--results", str(root / "results")], env, check=True)
    studies = {"good": {"methods": ["wrn"]}, "unknown": {"methods": ["nosuch"]}}
    for name, fields in studies.items():
        body = {"budget": "smoke", "seeds": [0], "tasks": {"darcyflow": {"source": "generated-approx"}},
                "results": str(root / "results"), **fields}
        _write(root / "studies" / name / "study.yaml", json.dumps(body))  # JSON is YAML
    _write(root / "studies" / "notyaml" / "study.yaml", "budget: [smoke\nseeds: {")
    shutil.copytree(root / "results", root / "truncated")
    dist = root / "broken-plugin" / "broken_plugin-0.1.dist-info"
    _write(dist / "METADATA", "Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    _write(dist / "entry_points.txt", "[nasbench.methods]\nbroken = broken_plugin_missing.module:Method\n"
                                      "renamed = nasbench.methods.wrn:WRN\n")
    return root / "results" / "darcyflow" / "wrn" / "seed=0"


def sidecars(root: Path) -> list[Path]:
    return sorted((root / "data" / "nb360" / "darcyflow" / "generated").glob("*.json"))


def setup(name: str, root: Path) -> None:
    if name.startswith("sidecar"):
        _restore_sidecars(root)
        side = sidecars(root)[0]
        if name == "sidecar_no_n":
            info = json.loads(side.read_text())
            info.pop("n")
            side.write_text(json.dumps(info))
        else:
            side.write_text("" if name == "sidecar_empty" else "{not json")
    elif name == "truncate":
        manifest = root / "truncated" / "darcyflow" / "wrn" / "seed=0" / "manifest.json"
        manifest.write_text(manifest.read_text()[:200])


def _restore_sidecars(root: Path) -> None:
    for side in sidecars(root):
        saved = side.with_suffix(".saved")
        if not saved.exists():
            shutil.copy(side, saved)
        shutil.copy(saved, side)


# -- running -------------------------------------------------------------------------------------
def _nasbench(args: list[str], env: dict, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    out = subprocess.run([*NASBENCH, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise SystemExit(f"setup failed: nasbench {' '.join(args)}\n{out.stdout}\n{out.stderr}")
    return out


def run_case(case: Case, root: Path, env: dict) -> dict:
    env = {**env, **(case.env or {})}
    if case.setup or case.interrupt_after:
        _restore_sidecars(root)
    if case.setup:
        setup(case.setup, root)
    if case.interrupt_after:
        code, output = _interrupted(case, env)
    else:
        out = _nasbench(case.args, env)
        code, output = out.returncode, (out.stderr if out.returncode else out.stdout) or out.stdout + out.stderr
        output = output if code else out.stdout + out.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    first = lines[0] if lines else "(no output)"
    if case.label.startswith("check: a broken"):
        first = next((line for line in lines if line.strip().startswith("method broken")), first)
    if case.label.startswith("report: truncated"):
        report = root / "truncated-report" / "report.md"
        first = next((line for line in report.read_text().splitlines() if "corrupt manifest" in line),
                     "(the report does not name the corrupt manifest)")
    return {"case": case.label, "command": "nasbench " + " ".join(_short(a, root) for a in case.args),
            "exit": code, "expected": case.expect, "first_line": first[:160],
            "traceback": "Traceback" in output, "lines": len(lines)}


def _interrupted(case: Case, env: dict) -> tuple[int, str]:
    process = subprocess.Popen([*NASBENCH, *case.args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if case.interrupt_after in line:
            process.send_signal(signal.SIGINT)
            break
    rest = process.communicate(timeout=120)[0]
    output = "".join(seen) + rest
    return process.returncode, "\n".join(line for line in output.splitlines() if not line.startswith("[")) or output


def _short(arg: str, root: Path) -> str:
    return arg.replace(str(root), "$TMP")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _digest(folder: Path, pattern: str = "*") -> str:
    """Names, bytes and modification times: a file rewritten with the same bytes counts as touched."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob(pattern)):
        if path.is_file() and path.suffix != ".saved":
            digest.update(path.name.encode() + path.read_bytes() + str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="nasbench-bad-inputs-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NASBENCH_DATA": str(root / "data")}
    finished = build_scene(root, env)
    before, mat_before = _digest(finished), _digest(root / "data", "*.mat")
    all_cases = cases(root)
    serial = [c for c in all_cases if c.setup or c.interrupt_after]  # they change the shared scene
    with ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(lambda c: run_case(c, root, env), [c for c in all_cases if c not in serial]))
    rows += [run_case(c, root, env) for c in serial]
    _restore_sidecars(root)
    untouched = _digest(finished) == before and _digest(root / "data", "*.mat") == mat_before
    broken = [r for r in rows
              if r["exit"] != r["expected"] or r["traceback"] or (r["expected"] == 2 and r["lines"] > 4)]
    print("| # | input | exit | first line of output |\n|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        mark = "" if r not in broken else f" **(expected {r['expected']}{', traceback' if r['traceback'] else ''})**"
        print(f"| {i} | {r['case']} | {r['exit']}{mark} | `{r['first_line'].replace('|', '/')}` |")
    print(f"\n{len(rows)} inputs; {len(rows) - len(broken)} kept the rule; tracebacks: "
          f"{sum(r['traceback'] for r in rows)}; the finished run and the data files untouched: {untouched}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if not broken and untouched else 1


if __name__ == "__main__":
    sys.exit(main())
