"""Names of the files and fields of a run folder, in one place. Readers glob for MANIFEST."""

SCHEMA_VERSION = 1

MANIFEST = "manifest.json"
CURVES = "curves.csv"
ARCH = "arch.json"
FINAL = "final.json"
PREDICTIONS = "predictions.pt"

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_SKIPPED = "skipped"
STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_SKIPPED)

STAGES = ("data", "search", "tune", "retrain", "evaluate")

# manifest fields
RUN_ID = "run_id"
STUDY = "study"
METHOD = "method"
TASK = "task"
SEED = "seed"
BUDGET = "budget"
STATUS = "status"
ERROR = "error"
DATA_SOURCE = "data_source"
COSTS = "stages"
METRIC = "metric"
ERROR_FORM = "error"
# under manifest["data"]: the test metric of a prediction that ignores its input (runner.constant_baseline)
CONSTANT_BASELINE = "constant_baseline"

RUN_GLOB = f"*/*/seed=*/{MANIFEST}"

# curves.csv: the search signal (docs/plugins.md, "The search signal"; read by nasbench.analysis.signals)
SIGNAL_PREFIX = "signal_"  # a search-stage column signal_<quantity> belongs to the search signal
SIGNAL_CHANGED = "signal_changed"  # discrete decisions whose choice differs from the one at initialisation
SIGNAL_DECISIONS = "signal_decisions"  # how many discrete decisions the architecture has
INITIAL_EPOCH = -1  # the row of the state at initialisation, before the first step (fit's log_initial)
