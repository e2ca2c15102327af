"""LRA Text (aclImdb layout) and Retrieval (AAN TSV) loaders on fixtures in their official formats."""
from __future__ import annotations

import csv
import dataclasses

import pytest
import torch

from nasbench.errors import CorruptDataError, MissingDataError
from nasbench.tasks.lra.common import EOS, PAD, UNK, Vocabulary
from nasbench.tasks.lra.retrieval import FILES, Retrieval, RetrievalConfig, read_pairs
from nasbench.tasks.lra.text import Text, TextConfig, list_reviews


def decode(ids: torch.Tensor, tokens: list[str]) -> str:
    return "".join(tokens[i] for i in ids.tolist() if i not in (PAD, EOS))


@pytest.fixture(scope="module")
def imdb(tmp_path_factory):
    root = tmp_path_factory.mktemp("imdb")
    Text(Text.default_config("smoke")).write_fixture(root, seed=0, per_class=20)
    return root


def test_text_splits_vocabulary_and_encoding(imdb):
    config = TextConfig(n_train=30, n_val=10, n_test=16, max_length=256, data_dir=str(imdb))
    data = Text(config).load()
    assert data.data_source == "fixture" and [len(s) for s in (data.train, data.val, data.test)] == [30, 10, 16]
    assert data.train.inputs.shape == (30, 256) and data.train.inputs.dtype == torch.int64
    assert data.detail["validation"] == "test split"
    # LRA validates on the test split: the validation reviews are the first test reviews of the same order
    assert torch.equal(data.val.inputs, data.test.inputs[:10]) and torch.equal(data.val.targets, data.test.targets[:10])
    assert set(data.train.targets.tolist()) == {0, 1}
    vocab = data.detail["vocabulary"]["tokens"]
    assert vocab[:3] == ["<pad>", "<unk>", "<eos>"] and vocab[3] == " "  # the most frequent character first
    listing = list_reviews(imdb / "aclImdb", "test")
    encoded = Vocabulary(tuple(vocab)).encode_chars([p.read_text(encoding="utf-8") for p, _ in listing], 256)
    matches = [i for i, row in enumerate(encoded) if torch.equal(row, data.test.inputs[0])]
    assert len(matches) == 1 and listing[matches[0]][1] == int(data.test.targets[0])
    assert data.test.inputs[0, 255] == EOS  # reviews are longer than 255 characters: truncated, then <eos>


def test_text_min_freq_maps_rare_characters_to_unk(tmp_path):
    Text(Text.default_config("smoke")).write_fixture(tmp_path, seed=1, per_class=10)
    path = next((tmp_path / "aclImdb" / "train" / "pos").glob("0_*.txt"))
    path.write_text("§" * 14 + path.read_text(), encoding="utf-8")  # 14 < min_freq = 15
    config = TextConfig(n_train=20, n_val=4, n_test=4, max_length=64, data_dir=str(tmp_path))
    data = Text(config).load()
    vocab = data.detail["vocabulary"]["tokens"]
    assert "§" not in vocab and "e" in vocab and all(len(t) == 1 for t in vocab[3:])
    assert any(row[:14].tolist() == [UNK] * 14 for row in data.train.inputs)


def test_text_validation_from_train_is_held_out(imdb):
    config = TextConfig(n_train=30, n_val=4, n_test=8, max_length=128, val_source="train", data_dir=str(imdb))
    data = Text(config).load()
    assert data.detail["validation"] == "train split"
    train_rows = {tuple(r.tolist()) for r in data.train.inputs}
    assert not any(tuple(r.tolist()) in train_rows for r in data.val.inputs)


def test_text_missing_folder_names_the_archive(tmp_path):
    with pytest.raises(MissingDataError) as info:
        Text(TextConfig(data_dir=str(tmp_path))).load()
    assert str(tmp_path / "aclImdb" / "train" / "neg") in str(info.value) and "aclImdb_v1.tar.gz" in str(info.value)


@pytest.fixture(scope="module")
def aan(tmp_path_factory):
    root = tmp_path_factory.mktemp("aan")
    Retrieval(RetrievalConfig(n_train=20, n_val=6, n_test=6)).write_fixture(root, seed=0)
    return root


def test_retrieval_pairs_shape_and_labels(aan):
    task = Retrieval(RetrievalConfig(n_train=20, n_val=6, n_test=6, max_length=300, data_dir=str(aan)))
    data = task.load()
    assert task.shape.pair_inputs and data.data_source == "fixture"
    assert data.train.inputs.shape == (20, 2, 300) and [len(data.val), len(data.test)] == [6, 6]
    with open(aan / FILES["train"], newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert data.train.targets.tolist() == [int(float(r[0])) for r in rows]
    vocab = data.detail["vocabulary"]["tokens"]
    assert decode(data.train.inputs[3, 0], vocab) == rows[3][3][:299]
    assert decode(data.train.inputs[3, 1], vocab) == rows[3][4][:299]


def test_retrieval_reads_quotes_verbatim_and_rejects_bad_rows(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text('1.0\ta\tb\tsays "hello\tworld"\n0.0\tc\td\tx\ty\n')
    first, second, labels = read_pairs(path, 2)
    assert first == ['says "hello', "x"] and second == ['world"', "y"] and labels == [1, 0]
    path.write_text("1.0\ta\tb\tonly four\n")
    with pytest.raises(CorruptDataError) as info:
        read_pairs(path, 1)
    assert "expected label, id1, id2, text1, text2" in str(info.value)


def test_retrieval_asks_for_more_pairs_than_the_file_holds(aan):
    config = dataclasses.replace(RetrievalConfig(n_train=20, n_val=6, n_test=6, data_dir=str(aan)), n_val=7)
    with pytest.raises(CorruptDataError) as info:
        Retrieval(config).load()
    assert "holds 6 pairs, 7 are needed" in str(info.value)


def test_text_download_extracts_the_labelled_reviews(tmp_path, monkeypatch):
    import tarfile

    from nasbench.tasks.lra import text as text_module

    Text(Text.default_config("smoke")).write_fixture(tmp_path / "made", per_class=2)
    (tmp_path / "made" / "aclImdb" / "train" / "unsup").mkdir()
    (tmp_path / "made" / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    archive = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "made" / "aclImdb", arcname="aclImdb")
    monkeypatch.setattr(text_module, "download_all", lambda task, files, folder, log: [archive])
    task = Text(TextConfig(n_train=4, n_val=2, n_test=2, data_dir=str(tmp_path / "data")))
    task.download(log=lambda _: None)
    assert len(list((tmp_path / "data" / "aclImdb" / "test" / "pos").glob("*.txt"))) == 2
    assert not (tmp_path / "data" / "aclImdb" / "train" / "unsup").exists()
    assert task.load().data_source == "official"  # no fixture marker travels with the archive
