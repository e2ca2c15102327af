"""Long Range Arena tasks (Tay et al., ICLR 2021) with the S4 preprocessing the DNArch paper uses."""
