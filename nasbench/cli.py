"""``nasbench`` command line: list, run, data, perf, check, study, report, reference."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from nasbench.budgets import BUDGETS, DEFAULT_BUDGET, check_budget
from nasbench.config import apply_overrides
from nasbench.contracts import unsupported_reason
from nasbench.errors import ConfigError, DataError, NasBenchError
from nasbench.registry import benchmarks, methods, tasks

if TYPE_CHECKING:
    from nasbench.study import Study

DEFAULT_RESULTS = Path("results") / "bench"


# Exit codes: 0 all done; 1 runs ran and some failed; 2 a user's mistake or a broken environment
# (one or two lines: what was wrong, what is valid, how to fix); 3 a bug (the only case with a
# traceback); 130 interrupted (Ctrl-C).
EXIT_FAILED_RUNS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130
INTERRUPTED = {
    "run": "the run was not finished and nothing of it was written; run the same command again to compute it",
    "data": "files are written whole or not at all; run the same command again to finish",
}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except NasBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"interrupted: {INTERRUPTED.get(args.command, 'run the same command again')}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`nasbench check | head`): not an error
        sys.stdout = open(os.devnull, "w")
        return 0
    except OSError as exc:  # the environment: a full disk, a permission, a folder removed meanwhile
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; free space or fix the permissions, then run the same "
              f"command again", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # a bug, in the suite or a plugin: the traceback is what a report of it needs
        traceback.print_exc()
        print("internal error: the traceback above is a bug in nasbench or in a plugin; please report it",
              file=sys.stderr)
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasbench", description="Comparative benchmarking of NAS methods.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered methods and tasks (no plugin is imported)")
    p.add_argument("--data", action="store_true", help="also the data status of each task (imports the task plugins)")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("run", help="run one method on one task with one seed")
    p.add_argument("method")
    p.add_argument("task")
    p.add_argument("--budget", default=DEFAULT_BUDGET, help=f"one of {', '.join(BUDGETS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a method config key (train.lr=0.01) or a task key (task.n_train=100)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results folder (default %(default)s)")
    p.add_argument("--force", action="store_true", help="recompute even if a finished run exists")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's, one per core); a study run with resources.cpus N uses N")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("data", help="where a task's data is, verify it, or generate it")
    p.add_argument("task")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--path", action="store_true", help="print where the files are looked for")
    mode.add_argument("--verify", action="store_true", help="check sizes and checksums")
    mode.add_argument("--generate", action="store_true", help="generate the data from its defining process")
    mode.add_argument("--download", action="store_true",
                      help="fetch the official files (resumable, checksums verified)")
    p.add_argument("--budget", default=DEFAULT_BUDGET, help="the budget whose sample counts to generate")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(handler=cmd_data)

    p = sub.add_parser("perf", help="run performance benchmarks and write their figures as JSON")
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--out", type=Path, default=Path("results") / "perf", help="folder for <name>.json")
    p.set_defaults(handler=cmd_perf)

    p = sub.add_parser("check", help="the method x task matrix: which pairs run, which are skipped and why")
    p.add_argument("--budget", default=DEFAULT_BUDGET)
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("study", help="run a study file (methods x tasks x seeds) on Ray or locally; resumable")
    p.add_argument("file", type=Path, help="reports/<study>/study.yaml")
    p.add_argument("--backend", choices=("ray", "local"), default="ray", help="ray (default) or local (in-process)")
    p.add_argument("--address", default=None, help="join this running Ray cluster (default: start a local one)")
    p.add_argument("--results", type=Path, default=None, help="results folder (default: the study file's)")
    p.add_argument("--force", action="store_true", help="recompute runs that finished before")
    p.set_defaults(handler=cmd_study)

    p = sub.add_parser("report", help="profiles, ranks, Kendall tau, costs and published numbers of a results folder")
    p.add_argument("target", nargs="?", help="a study name (results/STUDY) or a results folder")
    p.add_argument("--out", type=Path, default=None, help="output folder (default reports/<study>)")
    p.add_argument("--reference", type=Path, default=None, help="published numbers (default results/reference)")
    p.add_argument("--include-fixture", action="store_true", help="show runs on fixture data, labelled as such")
    p.add_argument("--published-only", action="store_true", help="report the published numbers alone")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates of the rank intervals")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("reference",
                       help="list the published numbers in results/reference, or import them (--import DIR)")
    p.add_argument("--import", dest="import_from", type=Path, default=None, metavar="DIR",
                   help="copy the published tables from DIR, a folder holding published_results.csv and the "
                        "files listed in results/reference/IMPORTED.json (there is no default: the suite's copy "
                        "is results/reference itself)")
    p.add_argument("--to", type=Path, default=Path("results") / "reference", help="destination (default %(default)s)")
    p.set_defaults(handler=cmd_reference)
    return parser


def cmd_list(args) -> int:
    """Names, sources and one-line descriptions; the descriptions are read from the plugins' source
    files (``Registry.description``), so listing imports no plugin and a broken plugin is still listed.
    ``--data`` imports the task plugins to say where each task's data stands."""
    for title, registry in (("methods", methods), ("tasks", tasks), ("benchmarks", benchmarks)):
        print(f"{title}:")
        for name, source in sorted(registry.sources().items()):
            print(f"  {name:<16} {source.target}  [{source.origin}]")
            description = registry.description(name)
            if description:
                print(f"  {'':<16} {description}")
    if not args.data:
        print("data status of each task: `nasbench list --data` or `nasbench check` (these import the plugins)")
        return 0
    print("data:")
    for name in tasks.names():
        try:
            task_cls = tasks.get(name)
            print(_data_line(task_cls(task_cls.default_config(DEFAULT_BUDGET)), 16)[1])
        except NasBenchError as exc:
            print(f"  {name.ljust(16)}{'broken'.ljust(21)}{exc}")
    return 0


def cmd_run(args) -> int:
    from nasbench.execution.trial import torch_threads
    from nasbench.runner import RunRequest, execute, first_line, prepare, resolve_device
    from nasbench.store import RunStore

    run = prepare(RunRequest(args.method, args.task, args.budget, args.seed, tuple(args.overrides)))
    device = resolve_device(args.device)
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads}: give a number of torch threads >= 1 (or leave it out)")
    store = RunStore(args.results)
    store.ensure_writable()  # before any work: a run computed into a folder it cannot write is thrown away
    with torch_threads(args.threads), EpochProgress() as progress:
        outcome = execute(run, store, study=args.results.name, force=args.force, device=device,
                          on_row=progress.row, raise_user_errors=True)
    metric = outcome.manifest.get("metric") or {}
    if outcome.status == "cached":
        print(f"already finished (use --force to recompute): {outcome.run_dir}")
    print(f"run folder: {outcome.run_dir}")
    source = outcome.manifest.get("data_source")
    print(f"status: {outcome.manifest.get('status')}" + (f"  data: {source}" if source else ""), flush=True)
    if metric:
        print(f"test {metric['name']}: {metric['value']:.6g}  ({metric['error_name']} {metric['error']:.6g})")
    if outcome.manifest.get("status") == "skipped":
        print(f"reason: {outcome.manifest.get('error')}", file=sys.stderr)
    if outcome.manifest.get("status") == "failed":
        print(f"run failed: {first_line(outcome.manifest.get('error'))}\n"
              f"  traceback: {outcome.run_dir / 'manifest.json'} (key 'traceback')", file=sys.stderr)
        return EXIT_FAILED_RUNS
    return 0


def curve_line(row: dict) -> str:
    """One line per epoch: stage, epoch, elapsed seconds and the recorded values."""
    values = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                       if k not in ("stage", "epoch", "elapsed_s"))
    return f"[{row['stage']} {row['epoch']:>3}  {row['elapsed_s']:7.1f}s]  {values}"


class EpochProgress:
    """Progress of a single run's stages: the curve line of every epoch on stdout (it stays in logs and
    pipes, and is the record a user reads), and below it a tqdm counter of the current stage's epochs
    and seconds per epoch on stderr, shown only when stderr is a terminal. A study reports through its
    backend's progress lines instead (nasbench.execution.progress). The counter has no total: a method
    may call the training loop several times per stage (candidates, phases), so only it knows."""

    def __init__(self):
        self._bar, self._stage = None, None

    def __enter__(self) -> "EpochProgress":
        return self

    def row(self, row: dict) -> None:
        from tqdm import tqdm

        if row["stage"] != self._stage:
            self._close()
            self._stage = row["stage"]
            self._bar = tqdm(desc=f"{self._stage} epochs", unit="epoch", file=sys.stderr, disable=None, leave=False)
        tqdm.write(curve_line(row), file=sys.stdout)
        self._bar.update(1)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __exit__(self, *exc) -> None:
        self._close()


def cmd_data(args) -> int:
    check_budget(args.budget)
    task_cls = tasks.get(args.task)
    overrides = [o.removeprefix("task.") for o in args.overrides]  # `task.source=...` as `nasbench run` takes it
    task = task_cls(apply_overrides(task_cls.default_config(args.budget), overrides))
    if args.path:
        print(task.data_dir())
        for f in task.data_files():
            print(f"  {'present' if f.path.exists() else 'missing'}  {f.path}  ({f.description})")
    elif args.verify:
        for line in task.verify():
            print(line)
    elif args.download:  # tasks with official files define download(log); the contract does not require it
        if not hasattr(task, "download"):
            raise DataError(f"task {args.task!r} has no official download; see `nasbench data {args.task} --path`")
        task.download(log=print)
    else:
        task.generate(log=print)
    return 0


def cmd_perf(args) -> int:
    import json

    from nasbench.allocator import keep_freed_memory
    from nasbench.data import atomic_write_text

    keep_freed_memory()  # as in every run (nasbench.runner.execute), so the figures describe runs
    for name in args.names or benchmarks.names():
        bench = benchmarks.get(name)()
        print(f"== {name}: {bench.description}")
        figures = bench.run(log=print)
        path = args.out / f"{name}.json"
        atomic_write_text(path, json.dumps(figures, indent=2))
        print(json.dumps(figures, indent=2))
        print(f"written: {path}")
    return 0


def cmd_check(args) -> int:
    """The method x task matrix, each task's data status and every plugin's description; a plugin that
    does not load is a ``broken`` row or column with its reason, and every other pair is still shown."""
    check_budget(args.budget)
    (method_classes, broken), (task_classes, broken_tasks) = _load_each(methods), _load_each(tasks)
    width = max(map(len, [*task_classes, "task"])) + 2
    column = max([12, *(len(m) + 2 for m in method_classes)])  # a long plugin name must not run into the next
    print("task".ljust(width) + "".join(m.ljust(column) for m in method_classes))
    reasons, data_lines = [], []
    for task_name, task_cls in task_classes.items():
        try:
            task = task_cls(task_cls.default_config(args.budget)) if task_cls is not None else None
        except NasBenchError as exc:
            task, broken_tasks = None, [*broken_tasks, f"  task {task_name}: {exc}"]
        if task is None:
            print(task_name.ljust(width) + "broken (see below)")
            continue
        status, data_line = _data_line(task, width)
        data_lines.append(data_line)
        cells = []
        for method_name, method_cls in method_classes.items():
            reason = None if method_cls is None else unsupported_reason(method_cls, task.shape)
            cells.append(_cell(method_cls, reason, status).ljust(column))
            if reason:
                reasons.append(f"  {method_name} x {task_name}: {reason}")
        print(task_name.ljust(width) + "".join(cells))
    if reasons:
        print("skipped pairs:\n" + "\n".join(reasons))
    if broken or broken_tasks:
        print("broken plugins (they cannot run; every other pair above can):\n" + "\n".join(broken + broken_tasks))
    print("data (a pair marked 'needs data' runs once the command below has fetched it):\n" + "\n".join(data_lines))
    _print_descriptions(method_classes, task_classes)
    return 0


def _cell(method_cls, reason: str | None, data_status: str) -> str:
    if method_cls is None:
        return "broken"
    if reason is not None:
        return "skipped"
    return "needs data" if data_status in NO_DATA else "runs"


def _print_descriptions(method_classes: dict, task_classes: dict) -> None:
    for title, classes in (("methods", method_classes), ("tasks", task_classes)):
        print(f"{title}:")
        for name, cls in classes.items():
            text = "(broken: see above)" if cls is None else cls.description or "(no description)"
            print(f"  {name:<16} {text}")


def _load_each(registry) -> tuple[dict, list[str]]:
    """name -> class, or None for a plugin that does not load; and one line per broken plugin."""
    classes, broken = {}, []
    for name in registry.names():
        try:
            classes[name] = registry.get(name)
        except NasBenchError as exc:
            classes[name] = None
            broken.append(f"  {registry.kind} {name}: {exc}")
    return classes, broken


NO_DATA = ("needs download", "needs files", "unknown")  # data statuses under which a run would fail


def _data_line(task, width: int) -> tuple[str, str]:
    """The task's data status and its line: status, then what to do."""
    from nasbench.data import data_status

    try:
        status, action = data_status(task)
    except Exception as exc:  # a plugin's data_files() that raises is the plugin's problem, shown here
        status, action = "unknown", f"{type(exc).__name__}: {exc}"
    return status, f"  {task.name.ljust(width)}{status.ljust(21)}{action}"


def cmd_study(args) -> int:
    from nasbench.execution import study_command

    return study_command(args.file, args.backend, args.address, args.results, args.force)


def cmd_report(args) -> int:
    from nasbench.report import ReportRequest, build_report

    results, name, study = resolve_target(args.target, args.published_only)
    request = ReportRequest(out_dir=Path(args.out) if args.out else Path("reports") / name, results_dir=results,
                            reference_dir=args.reference, include_fixture=args.include_fixture, study=study,
                            title=f"nasbench report: {name}", n_boot=args.bootstrap, command=rebuild_command(args))
    for kind, path in build_report(request).items():
        print(f"{kind}: {path}")
    return 0


def _study_of(name: str) -> Study | None:
    """The study file ``reports/<name>/study.yaml`` read by the study module (names not resolved: the
    report needs the grid, not the plugins), or None when there is none."""
    from nasbench.study import STUDY_FILE, load_study

    path = Path("reports") / name / STUDY_FILE
    return load_study(path, resolve=False) if path.is_file() else None


def resolve_target(target: str | None, published_only: bool) -> tuple[Path | None, str, Study | None]:
    """(results folder, report name, study) for ``nasbench report [STUDY_OR_DIR]``."""
    from nasbench.analysis.table import ReportError

    if published_only:
        return None, Path(target).name if target else "published", None
    if not target:
        raise ReportError("no study or results folder given\n  valid: `nasbench report STUDY` (results/STUDY), "
                          "`nasbench report DIR`, or `nasbench report --published-only`")
    path = Path(target)
    if len(path.parts) > 1 or path.is_dir():  # a folder; runs_table says so if it does not exist
        return path, path.name, _study_of(path.name)
    study = _study_of(target)
    results = study.results if study is not None else Path("results") / target
    if not results.is_dir():
        known = sorted(p.name for p in Path("results").glob("*") if p.is_dir() and p.name != "reference")
        raise ReportError(f"no results for study {target!r}: {results} does not exist\n  valid studies with "
                          f"results: {', '.join(known) or '(none)'}\n  to fix: `make study STUDY={target}` first, "
                          f"or give the results folder itself")
    return results, target, study


def rebuild_command(args) -> str:
    """The command line that rebuilds this report, written into it."""
    parts = ["nasbench", "report"] + ([args.target] if args.target else [])
    parts += ["--out", str(args.out)] if args.out else []
    parts += ["--reference", str(args.reference)] if args.reference else []
    parts += ["--include-fixture"] * bool(args.include_fixture) + ["--published-only"] * bool(args.published_only)
    parts += ["--bootstrap", str(args.bootstrap)] if args.bootstrap != 1000 else []
    return shlex.join(parts)


def cmd_reference(args) -> int:
    from nasbench.analysis.reference import find_reference_dir, import_reference, load_published
    from nasbench.analysis.table import ReportError

    if args.import_from is not None:
        for path in import_reference(args.import_from, args.to):
            print(f"imported: {path}")
    reference = find_reference_dir(args.to if args.import_from is not None else None)
    published = load_published(reference) if reference is not None else None
    if published is None:
        raise ReportError("no published numbers in results/reference\n  to fix: run from the suite's checkout, "
                          "whose results/reference holds them, or `nasbench reference --import DIR`")
    summary = published.groupby(["source", "table"], sort=False).agg(rows=("value", "size"), tasks=("task", "nunique"))
    print(f"published numbers in {reference}:\n{summary.to_string()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
