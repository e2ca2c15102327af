import json
import os

import pytest

from nasbench import schema
from nasbench.store import RunStore


def _files(status, value=1.0):
    return {schema.MANIFEST: json.dumps({schema.STATUS: status, "value": value}), "curves.csv": "stage,epoch\n"}


def test_write_creates_complete_folder(tmp_path):
    store = RunStore(tmp_path)
    where = store.write("t", "m", 0, _files("ok"))
    assert where == tmp_path / "t" / "m" / "seed=0"
    assert sorted(p.name for p in where.iterdir()) == ["curves.csv", "manifest.json"]
    assert [m[schema.STATUS] for _, m in store.manifests()] == ["ok"]


def test_interrupted_write_leaves_no_partial_run_folder(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    calls = []

    def crash_on_second(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        path.write_bytes(data)

    monkeypatch.setattr("nasbench.store._write_synced", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        store.write("t", "m", 0, _files("ok"))
    assert not (tmp_path / "t" / "m" / "seed=0").exists()
    assert list((tmp_path / "t" / "m").iterdir()) == []  # no temporary folder left either


def test_leftover_temporary_folder_is_invisible_and_cleaned(tmp_path):
    store = RunStore(tmp_path)
    partial = tmp_path / "t" / "m" / ".tmp-seed=0-deadbeef"
    partial.mkdir(parents=True)
    (partial / schema.MANIFEST).write_text(json.dumps({schema.STATUS: "ok"}))
    assert list(store.manifests()) == []
    assert store.clean_partial() == 1 and not partial.exists()


def test_failure_never_overwrites_a_finished_run(tmp_path):
    store = RunStore(tmp_path)
    store.write("t", "m", 0, _files("ok", value=0.5))
    kept = store.write("t", "m", 0, _files("failed"))
    assert store.read("t", "m", 0) == {schema.STATUS: "ok", "value": 0.5}
    assert kept.parent.name == ".failed" and json.loads((kept / schema.MANIFEST).read_text())[schema.STATUS] == "failed"
    assert [m[schema.STATUS] for _, m in store.manifests()] == ["ok"]


def test_success_replaces_a_failed_run(tmp_path):
    store = RunStore(tmp_path)
    store.write("t", "m", 0, _files("failed"))
    store.write("t", "m", 0, _files("ok", value=2.0))
    assert store.read("t", "m", 0)["value"] == 2.0
    assert sorted(p.name for p in (tmp_path / "t" / "m").iterdir()) == ["seed=0"]


def test_a_locked_run_is_refused_to_a_second_writer_and_its_temporary_folder_is_kept(tmp_path):
    store = RunStore(tmp_path)
    holder = store.lock("t", "m", 0)
    assert holder.acquire(blocking=False)
    partial = tmp_path / "t" / "m" / ".tmp-seed=0-deadbeef"  # the live writer's folder
    partial.mkdir(parents=True)
    try:
        assert not store.lock("t", "m", 0).acquire(blocking=False)
        assert f"pid {os.getpid()}" in store.lock("t", "m", 0).holder()
        assert store.lock("t", "m", 1).acquire(blocking=False)  # another run is free
        assert store.clean_partial() == 0 and partial.exists()
    finally:
        holder.release()
    assert store.clean_partial() == 1 and not partial.exists()


def test_an_unreadable_manifest_is_a_corrupt_stub_only_when_asked(tmp_path):
    store = RunStore(tmp_path)
    store.write("t", "m", 3, _files("ok"))
    (tmp_path / "t" / "m" / "seed=3" / schema.MANIFEST).write_text('{"status": "o')
    assert list(store.manifests()) == []
    [(where, stub)] = store.manifests(include_corrupt=True)
    assert stub[schema.STATUS] == "corrupt" and stub[schema.SEED] == 3 and "not valid JSON" in stub[schema.ERROR]
