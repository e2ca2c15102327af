"""An example nasbench plugin: the ``randomsearch`` method (random search over DASH's kernel/dilation
space of the WRN backbones) and the ``tones`` task (a generated 1D task).

The suite finds both through the entry points of this distribution (see ``pyproject.toml``); nothing
is registered on import, and importing this package imports neither module.
"""
