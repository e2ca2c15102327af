"""methods/ and tasks/ install as nasbench.methods and nasbench.tasks, never as bare top-level names."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"nasbench": "nasbench", "nasbench.methods": "methods", "nasbench.tasks": "tasks"}


def package_folders() -> set[str]:
    found = set()
    for name, folder in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "tests" not in rel.parts:
                found.add(".".join([name, *rel.parts]) if rel.parts else name)
    return found


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert package_folders() == listed


def test_editable_install_imports_from_the_checkout():
    import nasbench.methods.wrn
    import nasbench.tasks.nb360.darcyflow

    assert Path(nasbench.methods.wrn.__file__).resolve() == ROOT / "methods" / "wrn.py"
    assert Path(nasbench.tasks.nb360.darcyflow.__file__).resolve() == ROOT / "tasks" / "nb360" / "darcyflow.py"


def test_regular_install_imports_the_mapped_packages(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheel"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "wheel").glob("nasbench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nasbench/methods/wrn.py" in names and "nasbench/tasks/nb360/darcyflow.py" in names
    assert not any(n.startswith(("methods/", "tasks/")) for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    (tmp_path / "tasks.py").write_text("raise SystemExit('a user tasks.py must not be imported')\n")
    code = "import nasbench.methods.wrn as m, nasbench.tasks.nb360.darcyflow as t; print(m.__file__); print(t.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True,
                         env={**os.environ, "PYTHONPATH": str(target)})
    assert all(line.startswith(str(target)) for line in out.stdout.split())
