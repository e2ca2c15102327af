"""SPOS: a single-path supernet trained by uniform path sampling, then evolutionary search under a cost cap.

Paper: Z. Guo, X. Zhang, H. Mu, W. Heng, Z. Liu, Y. Wei, J. Sun, "Single Path One-Shot Neural
Architecture Search with Uniform Sampling", ECCV 2020 (arXiv:1904.00420). Reference implementation:
github.com/megvii-model/SinglePathOneShot (``src/Supernet/``, ``src/Search/``), read for facts and
constants only; no code was copied.

Modules: ``config`` (defaults and budgets), ``space`` (genes, MAC costs, the two samplers, mutation,
crossover), ``evolution`` (the search under the cap), ``search`` (supernet training, BN
recalibration, scoring), ``method`` (the ``spos`` SearchMethod and its record), ``benchmark``
(``nasbench perf spos_supernet_step_ratio``). The supernet is ``methods/backbones/single_path.py``.

What follows the paper and the reference:
- search space: the 20-layer ShuffleNetV2 supernet, 4 choice blocks per layer (ShuffleNet 3x3, 5x5,
  7x7, Xception), optional channel search over {0.2, ..., 1.6} x the base mid width by slicing;
- supernet training: one path per step, each layer's choice i.i.d. uniform [P] (``sampling:
  uniform``), or the reference's FLOPs-binned rejection sampler (``flops_binned``: a bin of 7 between
  290M and 360M of its supernet, 500 tries, then a uniform path); only the sampled path moves: fit's
  ``SinglePathSampling`` feature drops exactly-zero gradients so momentum and weight decay skip the
  rest [R]; SGD momentum 0.9 (no Nesterov), lr 0.5 at batch 1024 decaying linearly, weight decay
  4e-5 on convolution and linear weights only [R]; supernet BN without affine parameters [R];
- evolution [R]: population 50, 20 generations, top 10, 25 mutations (each gene redrawn with
  probability 0.1) and 25 crossovers (each gene from one of two top-10 parents) per generation,
  then random paths up to 50; candidates over the cap rejected before evaluation; a memo table so
  no path is evaluated twice; fitness the validation error after BN recalibration (statistics reset
  to mean 0, variance 1, refilled on 200 training batches of 128) on 8000 validation examples
  ([R] 40 x 200);
- cost cap in multiply-accumulates (the suite's ``count_macs``; the reference's "FLOPs" are MACs:
  its model of 323M counts 322.9M here): ``cost_cap_macs``, or ``cost_cap_fraction`` of the largest
  path, default 330M / 398.6M = 0.828, the reference's 330M cap on its supernet;
- the best path is retrained from scratch, 240 epochs, the supernet recipe otherwise [R]; the
  runner reports the last epoch's test metric.

Departures and why:
- the task's training split trains the supernet and the task's validation split scores candidates
  (the paper holds 50k ImageNet training images out as its validation set);
- the task's own loss (no label smoothing 0.1, no ImageNet augmentation): every method of the suite
  trains with the task's loss and data;
- the learning rate decays linearly per epoch (fit sets it per epoch), not per iteration;
- BN recalibration averages the statistics of all recalibration batches alike (cumulative average)
  where the reference keeps momentum 0.1, and every candidate is recalibrated on the same batches,
  drawn once, so that candidates differ only by their path; the reference draws fresh batches;
- every evaluated generation is ranked (the reference evaluates a 21st and never ranks it);
- on inputs whose smallest side is at most 32 the CIFAR form of the supernet (stride-1 stem, /4);
  global average pooling instead of AvgPool(7); 1D tasks use the same blocks with 1D kernels;
- the supernet's per-epoch validation score (curve column ``val_<metric>``) is that of one probe
  path drawn at the start, after recalibrating its BN statistics on a few training batches: a
  supernet has no score of its own, and a fixed path shows whether shared weights improve;
- dense tasks are skipped: ShuffleNetV2 pools to one vector and the paper gives no dense head;
  token inputs (LRA ListOps, Text, Retrieval) are skipped: the blocks take real-valued inputs.

Budgets: ``small`` (make bench) keeps the 20 layers and four blocks, with widths (16, 32, 64, 128),
stem 8 and the CIFAR form (stride-1 stem and first stage), last 256; 5 supernet epochs at batch 32
(lr 0.05); evolution population 16 x 8 generations, top 5, 6 mutations + 6 crossovers, recalibration
on 2 batches of 128, 500 validation examples; retraining 14 epochs at batch 64 (lr 0.1, weight decay
5e-4: 5000 images overfit with the paper's 4e-5). ``smoke`` (tests) shrinks the supernet to 5 layers
and caps at 0.95 of the largest path. ``budget_notes`` records both in the manifest.

Measured (Fashion-MNIST, 5000 training images, seed 0, ``make bench METHOD=spos TASK=fashionmnist
ARGS="--threads 1"``, one thread, machine shared with nice-19 jobs): test accuracy 0.8565, 5 min 50 s
wall (search 140 CPU s, retraining 198 CPU s); the found path has 124k parameters and 7.8M MACs. The
supernet is slow to learn under uniform sampling: its probe path scores 0.18 -> 0.23 validation
accuracy over the 5 epochs (train loss 2.40 -> 1.92), so its ranking at this budget is weak; the
evolution still improves on its first random population (best validation error 0.678 at generation
0 -> 0.662 at generation 3, flat after; 128 candidates evaluated, 25 drawn over the cap rejected).
Earlier budgets, for the record: a stride-2 stem (1/4 of the MACs) gave 0.8315 with 10 retraining
epochs and weight decay 4e-5, and 0.843 with this recipe. ``nasbench perf spos``: a supernet step
costs 0.97x (2D) and 1.01x (1D) the standalone step of the same path (one thread, load ~12,
measured with the stride-2 stem).
"""
from nasbench.methods.spos.config import SPOSConfig
from nasbench.methods.spos.method import SPOS

__all__ = ["SPOS", "SPOSConfig"]
