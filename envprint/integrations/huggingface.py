"""Hugging Face tokenizer parity: a tokenizer registered as a transform probe over a fixed multilingual corpus.

The most common text-model skew is the tokenizer: a normaliser setting, a pre-tokeniser, a vocabulary
or merges file, or a ``tokenizers`` release that handles a Unicode edge differently. Each gives other
token ids for some inputs, and the model sees other inputs. `tokenizer_probe` records, for every text
of a corpus shipped with envprint (whitespace edge cases, emoji, combining characters, CJK,
right-to-left scripts, very long words, numbers), the token ids, the attention mask, the character
offsets and the tokens, and compares them exactly wherever the probe is re-run (`envprint parity`, the
serving guard, the pytest plugin); a difference names the corpus row::

    from tokenizers import Tokenizer                      # or transformers.AutoTokenizer
    from envprint.integrations.huggingface import tokenizer_probe

    tokenizer_probe(Tokenizer.from_file("model/tokenizer.json"), name="tokenizer")

It works with a ``tokenizers.Tokenizer`` and with a transformers tokenizer (fast ones report offsets;
slow ones record that they cannot). Neither library is imported by envprint: the object is used as
given. Binding a model in the Hub cache, and ``hf://`` references, are `envprint.artifact`'s
(docs/huggingface.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envprint.errors import UsageError
from envprint.probes.transforms import Transform, register_transform

__all__ = ["CORPUS_PATH", "Corpus", "TokenizedRow", "corpus", "encode", "tokenizer_probe"]

#: the multilingual corpus shipped with envprint: JSON Lines of {"label", "text"}
CORPUS_PATH = Path(__file__).with_name("tokenizer_corpus.jsonl")
#: the probe's definition version: bump it when the corpus or the recorded columns change
CORPUS_VERSION = 1


@dataclass(frozen=True)
class Corpus:
    """Texts to tokenize, each with a label naming the edge case it holds."""

    labels: tuple[str, ...]
    texts: tuple[str, ...]


def corpus(path: str | Path | None = None) -> Corpus:
    """Returns the corpus at `path` (JSON Lines of {"label", "text"}), by default the one shipped with envprint."""
    source = Path(path) if path is not None else CORPUS_PATH
    labels: list[str] = []
    texts: list[str] = []
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UsageError(f"{source}: cannot read the tokenizer corpus ({e.strerror or e})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            label, text = row["label"], row["text"]
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{source}:{n}: expected a JSON object with text fields 'label' and 'text'") from None
        if not isinstance(label, str) or not isinstance(text, str):
            raise UsageError(f"{source}:{n}: 'label' and 'text' must be text")
        labels.append(label)
        texts.append(text)
    if not texts:
        raise UsageError(f"{source}: the tokenizer corpus holds no text")
    return Corpus(tuple(labels), tuple(texts))


@dataclass(frozen=True)
class TokenizedRow:
    """What a tokenizer made of one text."""

    ids: tuple[int, ...]
    attention_mask: tuple[int, ...]
    #: (start, end) character offsets of each token; None when the tokenizer cannot report them
    offsets: tuple[tuple[int, int], ...] | None
    tokens: tuple[str, ...]


def encode(tokenizer: Any, texts: Sequence[str]) -> list[TokenizedRow]:
    """Returns each text as `tokenizer` encodes it, special tokens included, without padding or truncation.

    `tokenizer` is a ``tokenizers.Tokenizer`` (anything with ``encode_batch``) or a transformers
    tokenizer (callable, with ``convert_ids_to_tokens``). Raises `UsageError` for anything else.
    """
    if hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "convert_ids_to_tokens"):
        return [_from_encoding(e) for e in tokenizer.encode_batch(list(texts))]
    if callable(tokenizer) and hasattr(tokenizer, "convert_ids_to_tokens"):
        return _from_transformers(tokenizer, texts)
    raise UsageError(
        f"cannot tokenize with a {type(tokenizer).__module__}.{type(tokenizer).__qualname__}",
        hint="pass a tokenizers.Tokenizer or a transformers tokenizer (AutoTokenizer.from_pretrained(...))",
    )


def _from_encoding(e: Any) -> TokenizedRow:
    return TokenizedRow(
        tuple(e.ids), tuple(e.attention_mask), tuple((int(a), int(b)) for a, b in e.offsets), tuple(e.tokens)
    )


def _from_transformers(tokenizer: Any, texts: Sequence[str]) -> list[TokenizedRow]:
    fast = bool(getattr(tokenizer, "is_fast", False))
    batch = tokenizer(list(texts), return_attention_mask=True, return_offsets_mapping=fast)
    rows = []
    for i, ids in enumerate(batch["input_ids"]):
        offsets = tuple((int(a), int(b)) for a, b in batch["offset_mapping"][i]) if fast else None
        tokens = tuple(str(t) for t in tokenizer.convert_ids_to_tokens(list(ids)))
        rows.append(TokenizedRow(tuple(int(x) for x in ids), tuple(batch["attention_mask"][i]), offsets, tokens))
    return rows


def _text(values: Iterable[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def tokenizer_probe(
    tokenizer: Any,
    *,
    name: str = "tokenizer",
    texts: Corpus | None = None,
    version: int = CORPUS_VERSION,
    replace: bool = False,
) -> Transform:
    """Returns the transform probe registered as `name` that tokenizes the corpus with `tokenizer`.

    Recorded per corpus row and compared exactly (no tolerance): the token ids, the attention mask,
    the offsets, the tokens and their count. `texts` replaces the shipped corpus (`corpus()`).
    Registering a taken name raises `UsageError` unless `replace` (see `register_transform`).
    """
    chosen = texts if texts is not None else corpus()
    encode(tokenizer, chosen.texts[:1])  # fail now, at registration, on an object that cannot tokenize

    def tokenize(batch: Sequence[str]) -> dict[str, Any]:
        rows = encode(tokenizer, batch)
        return {
            "ids": [_text(r.ids) for r in rows],
            "attention_mask": [_text(r.attention_mask) for r in rows],
            "offsets": [_text(r.offsets) if r.offsets is not None else "unavailable (slow tokenizer)" for r in rows],
            "tokens": [_text(r.tokens) for r in rows],
            "n_tokens": [len(r.ids) for r in rows],
        }

    return register_transform(
        tokenize,
        inputs=chosen.texts,
        name=name,
        rtol=0.0,
        atol=0.0,
        row_labels=chosen.labels,
        version=version,
        replace=replace,
    )
