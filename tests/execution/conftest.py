"""Fixtures shared by the study backend tests (defined in study_helpers)."""
from study_helpers import toy_study_env  # noqa: F401 (a fixture, registered by importing it here)
