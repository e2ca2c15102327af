import subprocess
import sys
from types import SimpleNamespace

import pytest

from nasbench.errors import DuplicateNameError, PluginError, UnknownNameError
from nasbench.registry import Registry, Source, methods


def test_listing_imports_no_plugin():
    code = ("import sys; from nasbench.registry import methods, tasks; "
            "assert 'wrn' in methods.names() and 'darcyflow' in tasks.names(); "
            "print(any(m.startswith(('nasbench.methods.', 'nasbench.tasks.')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_descriptions_are_read_without_importing_the_plugin(tmp_path, monkeypatch):
    (tmp_path / "nb_described").mkdir()
    (tmp_path / "nb_described" / "__init__.py").write_text("raise ImportError('a parent package is never run')\n")
    (tmp_path / "nb_described" / "plugin.py").write_text(
        "raise ImportError('never imported')\n\n\nclass Described:\n    name = 'described'\n"
        "    description = ('Searches a space '\n                   'in one line.')\n\n\n"
        "class Bare:\n    name = 'bare'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("method", "nasbench.test-none")
    reg._sources = {"described": Source("nb_described.plugin:Described", "test"),
                    "bare": Source("nb_described.plugin:Bare", "test")}
    assert reg.description("described") == "Searches a space in one line." and reg.description("bare") == ""
    assert not any(m.startswith("nb_described") for m in sys.modules)


def test_every_built_in_plugin_lists_its_description_without_being_imported():
    """Built-ins whose entry point names a package that re-exports the class (``from x import Name``)
    are followed into the defining module."""
    code = ("import sys; from nasbench.registry import methods, tasks; "
            "missing = [n for r in (methods, tasks) for n in r.names() if not r.description(n)]; "
            "print(missing, any(m.startswith(('nasbench.methods.', 'nasbench.tasks.')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] False"


def test_get_imports_lazily_and_caches():
    cls = methods.get("wrn")
    assert cls.name == "wrn" and methods.get("wrn") is cls
    assert "nasbench.methods.wrn" in sys.modules


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownNameError) as info:
        methods.get("wnr")
    assert "'wrn'" in str(info.value) and "Valid methods" in str(info.value)


def test_duplicate_decorator_registration_names_both():
    reg = Registry("method", "nasbench.no-such-group")

    class A:
        name = "same"

    class B:
        name = "same"

    reg.register(A)
    with pytest.raises(DuplicateNameError) as info:
        reg.register(B)
    assert "A" in str(info.value) and "B" in str(info.value)


def _entry_point(name, value, dist):
    return SimpleNamespace(name=name, value=value, dist=SimpleNamespace(name=dist))


def test_two_distributions_declaring_one_name_is_an_error(monkeypatch):
    reg = Registry("method", "g")
    eps = [_entry_point("m", "pkg_a:M", "dist-a"), _entry_point("m", "pkg_b:M", "dist-b")]
    monkeypatch.setattr("nasbench.registry.metadata.entry_points", lambda group: eps)
    with pytest.raises(DuplicateNameError) as info:
        reg.names()
    assert "dist-a" in str(info.value) and "dist-b" in str(info.value)


def test_plugin_import_failure_names_distribution(monkeypatch):
    reg = Registry("method", "g")
    eps = [_entry_point("broken", "no_such_module_xyz:M", "dist-broken")]
    monkeypatch.setattr("nasbench.registry.metadata.entry_points", lambda group: eps)
    assert reg.names() == ["broken"]  # listing still works
    with pytest.raises(PluginError) as info:
        reg.get("broken")
    assert "dist-broken" in str(info.value) and "no_such_module_xyz" in str(info.value)


def test_entry_point_name_must_equal_class_name(monkeypatch):
    reg = Registry("method", "g")
    eps = [_entry_point("other", "nasbench.methods.wrn:WRN", "dist-x")]
    monkeypatch.setattr("nasbench.registry.metadata.entry_points", lambda group: eps)
    with pytest.raises(PluginError) as info:
        reg.get("other")
    assert "'other'" in str(info.value) and "'wrn'" in str(info.value)
