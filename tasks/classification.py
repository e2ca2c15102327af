"""Alias: the classification base moved to ``nasbench.tasks.common.classification`` (one task layer)."""
from nasbench.tasks.common.classification import ClassificationTask, accuracy  # noqa: F401
