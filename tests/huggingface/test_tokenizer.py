"""Tokenizer parity: a real BPE tokenizer, trained offline, recorded over the shipped corpus and compared exactly."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest

tokenizers = pytest.importorskip("tokenizers")

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers  # noqa: E402

from envprint.errors import UsageError  # noqa: E402
from envprint.integrations import huggingface as hf  # noqa: E402
from envprint.parity import compare, unregister  # noqa: E402
from tests.conftest import run_envprint  # noqa: E402

WORDS = [
    "the",
    "model",
    "reads",
    "tokens",
    "and",
    "numbers",
    "12",
    "345",
    "6.78",
    "café",
    "naïve",
    "office",
    "finance",
    "Straße",
    "İstanbul",
    "東京",
    "大阪",
    "我们",
    "学习",
    "한국어",
    "مرحبا",
    "بالعالم",
    "שלום",
    "🍕",
    "👍",
    "https",
    "example",
    "org",
]


def _lines(n: int = 300) -> list[str]:
    rng = random.Random(17)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) for _ in range(n)]


def train(normalizer: normalizers.Normalizer | None = None) -> Tokenizer:
    """Returns a small byte-level BPE trained on a few hundred lines, offline, in a few milliseconds."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["[UNK]", "[CLS]", "[SEP]"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_lines(), trainer=trainer)
    return tok


@pytest.fixture(autouse=True)
def _clean_registry() -> object:
    yield
    with contextlib.suppress(KeyError):
        unregister("tokenizer")


def _failing_rows(baseline: object, serving: object) -> dict[str, set[str]]:
    """Returns corpus row label -> the columns that differ, from the full recorded values of both runs."""
    before = hf.tokenizer_probe(baseline).record()
    after = hf.tokenizer_probe(serving).record()
    labels = hf.corpus().labels
    rows: dict[str, set[str]] = {}
    for column, output in before.outputs.items():
        for i, (old, new) in enumerate(zip(output.samples, after.outputs[column].samples, strict=True)):
            if old != new:
                rows.setdefault(labels[i], set()).add(column)
    return rows


def test_the_shipped_corpus_covers_the_edge_cases_by_name() -> None:
    corpus = hf.corpus()
    assert len(corpus.texts) == len(corpus.labels) >= 60
    assert len(set(corpus.labels)) == len(corpus.labels)
    labels = set(corpus.labels)
    for needed in (
        "no-break space U+00A0",
        "emoji ZWJ family",
        "decomposed e + combining acute (NFD)",
        "Chinese",
        "Arabic",
        "Hebrew",
        "300 repeated letters",
        "scientific notation",
        "Arabic-Indic digits",
    ):
        assert needed in labels
    text = dict(zip(corpus.labels, corpus.texts, strict=True))
    assert text["decomposed e + combining acute (NFD)"] == "cafe\u0301"
    assert len(text["300 repeated letters"]) == 300


def test_the_same_tokenizer_matches_itself_in_every_column() -> None:
    tok = train(normalizers.NFC())
    before = hf.tokenizer_probe(tok).record()
    after = hf.tokenizer_probe(train(normalizers.NFC())).record()  # trained again: deterministic
    parity = compare(before, after, name="tokenizer")
    assert parity.passed, parity.summary()
    assert set(before.outputs) == {"ids", "attention_mask", "offsets", "tokens", "n_tokens"}
    assert parity.compared == 5 * len(hf.corpus().texts)
    assert (before.flags["rtol"], before.flags["atol"]) == (0.0, 0.0)


def test_a_changed_normaliser_is_caught_and_named_by_row() -> None:
    tok = train(normalizers.NFC())
    changed = Tokenizer.from_str(tok.to_str())
    changed.normalizer = normalizers.NFKC()  # the setting a config edit, or a tokenizers upgrade, changes
    rows = _failing_rows(tok, changed)
    parity = compare(hf.tokenizer_probe(tok).record(), hf.tokenizer_probe(changed).record(), name="tokenizer")
    assert not parity.passed
    assert parity.mismatched == sum(len(columns) for columns in rows.values())
    for label in (
        "ligature fi U+FB01 (NFKC splits it)",
        "fullwidth Latin (NFKC narrows it)",
        "superscript and fraction (NFKC)",
        "no-break space U+00A0",
    ):
        assert "ids" in rows[label], sorted(rows)
    for unchanged in ("integers", "Chinese", "Hebrew", "long English word"):
        assert unchanged not in rows  # NFKC leaves these texts as they are
    for m in parity.mismatches:  # the report names each row by its corpus label
        assert m.row_label == hf.corpus().labels[m.row] and m.row_label in rows


def test_a_lowercasing_normaliser_is_caught_on_the_rows_with_capitals() -> None:
    tok = train()
    lowered = Tokenizer.from_str(tok.to_str())
    lowered.normalizer = normalizers.Lowercase()
    rows = _failing_rows(tok, lowered)
    assert "all caps and mixed case" in rows
    assert "integers" not in rows


def test_a_transformers_fast_tokenizer_records_what_the_tokenizers_object_records() -> None:
    transformers = pytest.importorskip("transformers")
    tok = train(normalizers.NFC())
    wrapped = transformers.PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(tok.to_str()))
    assert hf.encode(wrapped, ["café 東京"]) == hf.encode(tok, ["café 東京"])
    parity = compare(hf.tokenizer_probe(tok).record(), hf.tokenizer_probe(wrapped).record(), name="tokenizer")
    assert parity.passed, parity.summary()


def test_a_slow_transformers_tokenizer_records_that_it_has_no_offsets() -> None:
    transformers = pytest.importorskip("transformers")
    slow = transformers.ByT5Tokenizer()  # a pure-Python (slow) tokenizer that needs no vocabulary file
    assert not slow.is_fast
    [row] = hf.encode(slow, ["hi"])
    assert row == hf.TokenizedRow((107, 108, 1), (1, 1, 1), None, ("h", "i", "</s>"))
    result = hf.tokenizer_probe(slow).record()
    assert result.status == "ok"
    assert set(result.outputs["offsets"].samples) == {"unavailable (slow tokenizer)"}


def test_an_object_that_cannot_tokenize_is_refused_at_registration() -> None:
    with pytest.raises(UsageError, match=r"cannot tokenize with a builtins\.dict"):
        hf.tokenizer_probe({"not": "a tokenizer"})


def test_a_corpus_of_ones_own_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"label": "greeting", "text": "hello"}\n\n{"label": "number", "text": "42"}\n')
    corpus = hf.corpus(path)
    assert corpus == hf.Corpus(("greeting", "number"), ("hello", "42"))
    result = hf.tokenizer_probe(train(), texts=corpus).record()
    assert json.loads(result.flags["row_labels"]) == ["greeting", "number"]  # type: ignore[arg-type]
    path.write_text('{"label": "greeting"}\n')
    with pytest.raises(UsageError, match=r"corpus\.jsonl:1: expected a JSON object"):
        hf.corpus(path)


@pytest.mark.slow
def test_ci_parity_catches_a_changed_tokenizer_json_naming_rows(tmp_path: Path) -> None:
    saved = tmp_path / "model" / "tokenizer.json"
    saved.parent.mkdir()
    train(normalizers.NFC()).save(str(saved))
    module = tmp_path / "tokenizer_parity.py"
    module.write_text(
        "from tokenizers import Tokenizer\n"
        "from envprint.integrations.huggingface import tokenizer_probe\n"
        f"tokenizer_probe(Tokenizer.from_file({str(saved)!r}))\n"
    )
    fp = tmp_path / "train.fp"
    # --probes parity: only the transform probes, not the numeric ones (this test is about the tokenizer)
    out = run_envprint(["capture", "-q", "--probes", "parity", "-o", str(fp), "--probes-from", str(module)])
    assert out.returncode == 0, out.stderr
    check = ["parity", str(fp), "--probes-from", str(module), "--no-entry-points"]
    out = run_envprint(check)
    assert out.returncode == 0, out.stdout + out.stderr
    before = Tokenizer.from_file(str(saved))
    config = json.loads(saved.read_text())
    config["normalizer"] = {"type": "NFKC"}
    saved.write_text(json.dumps(config))
    rows = _failing_rows(before, Tokenizer.from_file(str(saved)))
    out = run_envprint(check)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL    tokenizer" in out.stdout
    out = run_envprint([*check, "--format", "json"])
    [result] = json.loads(out.stdout)["results"]
    assert result["status"] == "fail"
    assert result["mismatched"] == sum(len(columns) for columns in rows.values())
    assert result["mismatches"]
    for m in result["mismatches"]:
        assert m["column"] in rows[m["row_label"]]
