"""Analysis of run results as pure functions over pandas tables: the runs table and its
completeness, aggregates over seeds, performance profiles, ranks and Kendall tau-b, published
numbers. Figures live in ``nasbench.analysis.plots`` (the only module here that imports matplotlib,
besides the document renderer used by ``nasbench.report``)."""
from nasbench.analysis.aggregate import aggregate, error_matrix, seed_error_cube
from nasbench.analysis.profiles import performance_profile, performance_ratios, profile_summary
from nasbench.analysis.ranks import (
    average_ranks,
    kendall_tau_b,
    rank_table,
    ranking_fidelity,
    task_ranks,
    tau_against,
    tau_between_tasks,
)
from nasbench.analysis.reference import import_reference, load_published, published_matrix
from nasbench.analysis.signals import read_signal, search_moved, signal_table
from nasbench.analysis.table import ReportError, completeness, runs_table

__all__ = [
    "ReportError", "aggregate", "average_ranks", "completeness", "error_matrix", "import_reference",
    "kendall_tau_b", "load_published", "performance_profile", "performance_ratios", "profile_summary",
    "published_matrix", "rank_table", "ranking_fidelity", "read_signal", "runs_table", "search_moved",
    "seed_error_cube", "signal_table", "tau_against", "tau_between_tasks", "task_ranks",
]
