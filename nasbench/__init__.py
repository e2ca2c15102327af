"""nasbench: a comparative benchmarking suite for neural architecture search."""

__version__ = "0.1.0"
