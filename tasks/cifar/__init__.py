"""CIFAR-10/100 image classification under the NAS-Bench-360 and DNArch protocols."""
