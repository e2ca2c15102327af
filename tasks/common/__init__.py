"""The task layer every task family builds on (no family imports another family's module):

- ``provenance``: the fixture marker and data-source label, the data-folder lock;
- ``download``: official files, resumable download with checksums, the missing-file error;
- ``members``: reading an official archive whether it was extracted or not;
- ``splits``: split-size helpers, seeded index splits, the lazy split;
- ``declared``: the declarative task base (``validate``, ``default_config``, ``budget_notes`` from
  declared budgets; official files);
- ``classification``: cross-entropy and accuracy on top of it;
- ``cifar``: the one CIFAR reader, its fixture, and the NAS-Bench-360 transform.
"""
