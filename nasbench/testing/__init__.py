"""Contract checks for plugin authors: a method or a task goes through the checks the built-ins pass.

    from nasbench.testing import check_method, check_task

    def test_my_method_keeps_the_contract():
        check_method("my-method")                   # the name of its entry point
        check_method("my-method", task="ecg")       # and on a task of another shape

    def test_my_task_keeps_the_contract():
        check_task("my-task")

``check_method`` resolves the method through the registry (as every command does), checks its class
attributes, its hooks and its config (defaults for every budget; unknown keys and wrong types refused),
then runs it through the runner at the ``smoke`` budget on one task on the CPU, twice with the same
seed, watching it: the run must finish, write a valid architecture record, never read the test split
or load the task's data itself, never seed a global generator or read the clock, return its network
on the device it was given, and give the same metric and architecture both times. The task is ``task``
(a name, a ``SmokeTask`` or a Task class) or else the first registered task the method runs on, in the
order of ``nasbench.testing.smoke`` (the cheapest 2D dense task, then 1D, then 2D classification). A
task runs with its own smoke settings: its ``smoke_overrides`` and the fixture its ``write_fixture``
writes into a temporary folder. ``check_task`` checks a task the same way and runs on it the first
registered method that supports it (plain backbones first).

Both return a ``ContractReport`` (one line per check) and raise ``ContractError`` naming every check
that failed, unless ``raise_on_failure=False``. ``skip=("determinism",)`` halves the time. pytest is
not needed. The clock and seeding watches are best effort: they see calls made through the ``time``,
``random``, ``numpy.random`` and ``torch`` modules from the plugin's own package.

Modules: ``report`` (results of checks), ``structure`` (attributes, hooks, configs), ``smoke`` (smoke
tasks and methods from the registries, the method x task matrix), ``watch`` (a watched run), ``runs``
(checks of a run), ``checks`` (the two entry points).
"""
from nasbench.testing.checks import METHOD_CHECKS, TASK_CHECKS, check_method, check_task
from nasbench.testing.report import CheckResult, ContractError, ContractReport
from nasbench.testing.smoke import (
                                    SHAPE_KINDS,
                                    SmokePair,
                                    SmokeTask,
                                    pick_smoke_method,
                                    pick_smoke_task,
                                    shape_kind,
                                    smoke_matrix,
                                    smoke_task,
                                    smoke_tasks,
)
from nasbench.testing.structure import METHOD_HOOKS, TASK_HOOKS, missing_hooks
from nasbench.testing.watch import Watch, WatchedRun, watched_run

__all__ = ["check_method", "check_task", "ContractReport", "ContractError", "CheckResult", "SmokeTask", "SmokePair",
           "METHOD_CHECKS", "TASK_CHECKS", "METHOD_HOOKS", "TASK_HOOKS", "SHAPE_KINDS", "missing_hooks", "Watch",
           "WatchedRun", "watched_run", "pick_smoke_task", "pick_smoke_method", "smoke_task", "smoke_tasks",
           "smoke_matrix", "shape_kind"]
