"""Data management of the NAS-Bench-360 tasks: where files are looked for, missing-file errors as a
new user meets them, verification, and resumable downloads against a loopback HTTP server."""
import hashlib
import http.server
import threading

import pytest
from nb360_helpers import NB360_TASKS, fixture_task

from nasbench.cli import main
from nasbench.errors import CorruptDataError, DataError, MissingDataError
from nasbench.registry import tasks
from nasbench.tasks.common.download import OfficialFile, download
from nasbench.tasks.nb360 import ecg

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at any path; honours ``Range: bytes=N-`` unless the server says not to."""

    def do_GET(self):
        self.server.ranges.append(self.headers.get("Range"))
        start = 0
        if self.headers.get("Range") and self.server.honour_range:
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(PAYLOAD) - start))
        self.end_headers()
        self.wfile.write(PAYLOAD[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.ranges, httpd.honour_range = [], True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def spec(server, **checks) -> OfficialFile:
    return OfficialFile("payload.bin", f"http://127.0.0.1:{server.server_port}/payload.bin", "test payload", **checks)


@pytest.mark.parametrize("name", NB360_TASKS)
def test_missing_official_file_names_path_expected_file_and_fix(tmp_path, name):
    task = fixture_task(name, tmp_path / name)
    with pytest.raises(MissingDataError) as caught:
        task.load(allow_generate=False)
    message = str(caught.value)
    official = {f.path.name for f in task.data_files()}
    assert str(tmp_path / name) in message and any(n in message for n in official)
    assert f"nasbench data {name} --download" in message and "--path" in message


def test_new_user_meets_the_missing_file_error_on_run_and_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NASBENCH_DATA", str(tmp_path / "nowhere"))
    assert main(["data", "deepsea", "--verify"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere" / "nb360" / "deepsea" / "deepsea_filtered.npz") in err
    assert "nasbench data deepsea --download" in err and "pde-xd.s3.amazonaws.com/deepsea/deepsea_filtered.npz" in err
    assert main(["run", "wrn", "ecg", "--budget", "smoke", "--results", str(tmp_path / "results")]) == 2
    captured = capsys.readouterr()  # missing data is the user's to fix: an error, not a failed run
    assert "challenge2017.pkl" in captured.err and not (tmp_path / "results" / "ecg").exists()
    assert "nasbench data ecg --download" in captured.err


def test_path_lists_files_and_verify_reports_fixtures(tmp_path, capsys, nb360_fixture):
    folder = nb360_fixture("satellite")
    assert main(["data", "satellite", "--path", "--set", f"data_dir={folder}"]) == 0
    out = capsys.readouterr().out
    assert f"present  {folder / 'satellite_train.npy'}" in out and str(folder) in out.splitlines()[0]
    assert main(["data", "satellite", "--verify", "--set", f"data_dir={folder}"]) == 0
    assert capsys.readouterr().out.count("fixture  ") == 2


def test_download_resumes_a_partial_file(tmp_path, server):
    (tmp_path / "payload.bin.part").write_bytes(PAYLOAD[:300_000])
    path = download(spec(server, sha256=hashlib.sha256(PAYLOAD).hexdigest()), tmp_path, log=lambda s: None)
    assert path.read_bytes() == PAYLOAD and server.ranges == ["bytes=300000-"]
    assert not (tmp_path / "payload.bin.part").exists()


def test_download_restarts_when_the_server_ignores_range(tmp_path, server):
    server.honour_range = False
    (tmp_path / "payload.bin.part").write_bytes(b"x" * 1000)
    path = download(spec(server, md5=hashlib.md5(PAYLOAD).hexdigest(), size=len(PAYLOAD)), tmp_path,
                    log=lambda s: None)
    assert path.read_bytes() == PAYLOAD


def test_download_rejects_a_bad_checksum_and_drops_the_partial_file(tmp_path, server):
    with pytest.raises(CorruptDataError, match="md5"):
        download(spec(server, md5="0" * 32), tmp_path, log=lambda s: None)
    assert not (tmp_path / "payload.bin").exists() and not (tmp_path / "payload.bin.part").exists()


def test_download_without_network_says_so(tmp_path, server):
    port = server.server_port
    server.shutdown()
    server.server_close()
    with pytest.raises(DataError, match="network"):
        download(OfficialFile("f", f"http://127.0.0.1:{port}/f", "x"), tmp_path, log=lambda s: None, timeout=5)


def test_cli_download_fetches_the_official_file_into_the_task_folder(tmp_path, server, monkeypatch, nb360_fixture):
    source = (nb360_fixture("ecg") / "challenge2017.pkl").read_bytes()
    monkeypatch.setattr(__import__(__name__), "PAYLOAD", source)
    monkeypatch.setattr(ecg.ECG, "files", (OfficialFile("challenge2017.pkl", spec(server).url, "ECG pickle"),))
    assert main(["data", "ecg", "--download", "--set", f"data_dir={tmp_path}"]) == 0
    assert (tmp_path / "challenge2017.pkl").read_bytes() == source
    data = fixture_task("ecg", tmp_path).load(allow_generate=False)
    assert data.data_source == "official" and len(data.train) > 0  # no marker: it would be recorded as official


def test_every_nb360_task_is_registered_with_its_shape():
    shapes = {name: tasks.get(name)(tasks.get(name).default_config("smoke")).shape for name in NB360_TASKS}
    assert {n: (s.dims, s.output, s.num_outputs) for n, s in shapes.items()} == {
        "cifar100": (2, "classes", 100), "spherical": (2, "classes", 100), "ninapro": (2, "classes", 18),
        "fsd50k": (2, "multilabel", 200), "psicov": (2, "dense_regression", 1), "cosmic": (2, "dense_binary", 1),
        "ecg": (1, "classes", 4), "satellite": (1, "classes", 24), "deepsea": (1, "multilabel", 36)}
    assert {n: s.in_channels for n, s in shapes.items()} == {"cifar100": 3, "spherical": 3, "ninapro": 1, "fsd50k": 1,
                                                            "psicov": 57, "cosmic": 1, "ecg": 1, "satellite": 1,
                                                            "deepsea": 4}
