"""Golden predictions: the model's own outputs on a sample of inputs, recorded in training, re-run at serving.

An environment difference is evidence, not a verdict. When the fingerprint carries the model's golden
predictions and the serving process reproduces them, differences that can only act through the model
(library versions, kernels, threads, CPU features) did not change this model's numbers: the default
policy reports them as warnings and says why. When the predictions differ, the guard refuses and
names the golden mismatch first::

    # training, after fitting
    envprint.golden_predictions(model, x_sample)            # 256 rows or so
    fp = envprint.capture(artifact="model/")                # records the predictions and the inputs
    fp.save("model/envprint.fp", key="train.key")

    # serving startup, after loading the model
    envprint.guard("model/", trusted_keys=["train.pub"], model=model)

The golden predictions are a transform probe of kind ``"model"`` (`envprint.probes.transforms`): they
are compared element by element within `rtol`/`atol` and a difference names its row. The inputs are
stored in the fingerprint itself (``Fingerprint.golden_inputs``, a ``.npz`` per probe, signed with the
rest), so serving re-runs the model on exactly the rows training used, whatever the artifact layout.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from envprint.errors import FingerprintFormatError, UsageError
from envprint.model import Fingerprint, ProbeResult
from envprint.probes.transforms import DEFAULT_ATOL, DEFAULT_RTOL, Transform, add_transform, recorded, registered

__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "MAX_INPUT_BYTES",
    "golden_predictions",
    "inputs_of",
    "predictor",
    "rerun",
    "stored_inputs",
]

#: golden inputs travel in the fingerprint: a sample, not a data set
MAX_INPUT_BYTES = 4 * 1024 * 1024
#: the transform-probe kind of golden predictions
KIND = "model"


def golden_predictions(
    model: Any,
    inputs: Any,
    *,
    name: str = "predictions",
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    predict: Callable[[Any], Any] | None = None,
    version: int = 1,
) -> Transform:
    """Returns the golden-predictions probe registered for `model` on `inputs`, recorded by the next capture.

    `inputs` is an array (or a mapping of names to arrays, for multi-input models) of a few hundred
    rows. `predict` defaults to what the model offers: Keras ``predict(x, verbose=0)``, scikit-learn
    ``predict_proba`` (else ``predict``), or calling the model. Registering the same name again
    replaces the earlier model.
    """
    arrays = _arrays(inputs)
    encode_inputs(arrays)  # fails now, not at capture, when the inputs cannot travel in a fingerprint
    fn = predict if predict is not None else predictor(model)
    transform = Transform(name, fn, arrays, rtol=float(rtol), atol=float(atol), version=version, kind=KIND)
    return add_transform(transform, replace=True)


def predictor(model: Any) -> Callable[[Any], Any]:
    """Returns the function that computes a model's predictions as a numpy array."""
    if hasattr(model, "predict") and hasattr(model, "layers"):  # Keras
        return lambda x: np.asarray(model.predict(x, verbose=0))
    if hasattr(model, "predict_proba"):  # scikit-learn classifiers
        return lambda x: np.asarray(model.predict_proba(x))
    if hasattr(model, "predict"):
        return lambda x: np.asarray(model.predict(x))
    if callable(model):
        return lambda x: np.asarray(model(x))
    raise UsageError(
        f"cannot compute predictions with a {type(model).__name__}: it has no predict() and is not callable",
        hint="pass predict=lambda x: ... to envprint.golden_predictions",
    )


def _arrays(inputs: Any) -> Any:
    if isinstance(inputs, Mapping):
        return {str(k): np.asarray(v) for k, v in inputs.items()}
    return np.asarray(inputs)


def encode_inputs(arrays: Any) -> bytes:
    """Returns golden inputs as ``.npz`` bytes (no pickles); raises UsageError when they are too large or objects."""
    named = arrays if isinstance(arrays, Mapping) else {"inputs": arrays}
    for key, value in named.items():
        if value.dtype.hasobject:
            raise UsageError(f"golden inputs {key!r}: an object array cannot be stored; convert it to numbers or text")
    buffer = io.BytesIO()
    np.savez(buffer, **named)
    data = buffer.getvalue()
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(
            f"golden inputs are {len(data)} bytes; at most {MAX_INPUT_BYTES} travel in a fingerprint",
            hint="pass a sample of a few hundred rows",
        )
    return data


def decode_inputs(data: bytes, *, source: str = "fingerprint") -> Any:
    """Returns the arrays of stored golden inputs; FingerprintFormatError when they are not a plain ``.npz``."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            named = {k: npz[k] for k in npz.files}
    except Exception as e:  # numpy raises many types on a damaged archive
        raise FingerprintFormatError(f"{source}: golden inputs are not a readable .npz ({type(e).__name__})") from None
    return named["inputs"] if set(named) == {"inputs"} else named


def stored_inputs() -> dict[str, bytes]:
    """Returns the inputs of every registered golden-predictions probe, encoded for `Fingerprint.golden_inputs`."""
    return {t.name: encode_inputs(t.inputs) for t in registered() if t.kind == KIND}


def inputs_of(fp: Fingerprint, name: str) -> Any:
    """Returns the golden inputs a fingerprint recorded for probe `name`, None when it has none."""
    stored = (fp.golden_inputs or {}).get(name)
    return None if stored is None else decode_inputs(stored, source=f"golden inputs {name!r}")


def rerun(reference: Fingerprint, model: Any, *, predict: Callable[[Any], Any] | None = None) -> dict[str, ProbeResult]:
    """Returns the reference's golden-predictions probes re-run with `model` on the inputs it recorded.

    The tolerance and version are the recorded ones, so the comparison is the one training asked for.
    """
    out = {}
    for name, golden in recorded(reference).items():
        if golden.flags.get("kind") != KIND:
            continue
        inputs = inputs_of(reference, name)
        if inputs is None:
            continue
        rtol, atol = golden.flags.get("rtol"), golden.flags.get("atol")
        transform = Transform(
            name,
            predict if predict is not None else predictor(model),
            inputs,
            rtol=float(rtol) if isinstance(rtol, (int, float)) else DEFAULT_RTOL,
            atol=float(atol) if isinstance(atol, (int, float)) else DEFAULT_ATOL,
            version=golden.version,
            kind=KIND,
        )
        out[name] = transform.record()
    return out
