"""Real data sets that run offline: additions of this suite, not part of a published benchmark."""
