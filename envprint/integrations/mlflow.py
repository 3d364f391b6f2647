"""MLflow: log a model with its signed fingerprint, and check it where MLflow keeps it.

Needs ``pip install 'envprint[mlflow]'`` (mlflow-skinny: a tracking server or a ``file:`` store); a
local ``sqlite:`` store needs the full ``mlflow`` package (SQLAlchemy). The whole loop (docs/mlflow.md)::

    from envprint.integrations import mlflow as envprint_mlflow

    # training: save the model, fingerprint it (binding MLmodel, conda.yaml, requirements.txt,
    # python_env.yaml and the weights), sign, log to the run, register
    logged = envprint_mlflow.log_model(
        lambda path: mlflow.pyfunc.save_model(path, python_model="model.py"),
        key="train.key", registered_model_name="churn",
    )

    # serving: download, verify the signature and every file, import the model's flavor libraries
    # (sklearn, torch, ...), compare the environment, then load
    model = envprint_mlflow.load_model("models:/churn@champion", trusted_keys=["train.pub"])

``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` and ``runs:/RUN_ID/PATH`` are artifact references
(`envprint.artifact.refs`): ``envprint check``, ``envprint verify`` and ``envprint.guard()`` accept
them, resolved here through MLflow (``MLFLOW_TRACKING_URI``) and downloaded before anything is
verified. Files the registry adds on download (``registered_model_meta``) are on the manifest's
signed ignore list; anything else added, changed or missing refuses.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import importlib.util
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import yaml  # type: ignore[import-untyped]  # PyYAML, a dependency of mlflow-skinny
from mlflow import MlflowClient
from mlflow.models import Model
from mlflow.store.artifact.utils.models import get_model_name_and_version
from mlflow.store.db.db_types import DATABASE_ENGINES
from mlflow.tracking.registry import UnsupportedModelRegistryStoreURIException

from envprint._files import read_regular
from envprint.artifact import FINGERPRINT_NAME
from envprint.artifact.refs import ResolvedArtifact, locate
from envprint.capturing import capture, import_modules
from envprint.codec import authenticate, decode_fingerprint
from envprint.envelope import read_envelope
from envprint.errors import EnvprintError, UsageError
from envprint.model import Fingerprint
from envprint.policy import resolve_policy
from envprint.privacy import redact_path
from envprint.serving import GuardResult, guard
from envprint.signing import PrivateKeyLike, TrustedKeysLike, signer_of

__all__ = [
    "FLAVOR_MODULES",
    "MLFLOW_FILES",
    "SCHEMES",
    "LoggedModel",
    "download",
    "load_model",
    "log_model",
    "resolve",
]

#: the reference schemes resolved here
SCHEMES = ("models:/", "runs:/")
#: what MLflow writes beside a saved model; the fingerprint is captured after them so the binding covers them
MLFLOW_FILES = ("MLmodel", "conda.yaml", "requirements.txt", "python_env.yaml")
_MODELS = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>[^/]+)|@(?P<alias>[^/]+))/?")
_RUNS = re.compile(r"runs:/(?P<run>[0-9a-zA-Z_-]+)/(?P<path>.+)")
# credentials in a tracking URI (https://user:token@host) never reach a description or a fingerprint
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
#: MLmodel flavor -> the library `load_model` imports before the guard compares this process, so the
#: libraries the model was trained with (and their BLAS/OpenMP runtimes) are loaded when it is measured
FLAVOR_MODULES: Mapping[str, str] = MappingProxyType(
    {
        "sklearn": "sklearn",
        "xgboost": "xgboost",
        "lightgbm": "lightgbm",
        "catboost": "catboost",
        "keras": "keras",
        "tensorflow": "tensorflow",
        "pytorch": "torch",
        "onnx": "onnxruntime",
        "spark": "pyspark",
        "statsmodels": "statsmodels",
        "prophet": "prophet",
        "pmdarima": "pmdarima",
        "h2o": "h2o",
        "spacy": "spacy",
        "paddle": "paddle",
        "transformers": "transformers",
        "sentence_transformers": "sentence_transformers",
        "diffusers": "diffusers",
    }
)
# an MLmodel is a few KiB; more is not a model description
_MLMODEL_LIMIT = 4 * 1024 * 1024
logger = logging.getLogger("envprint")


@dataclass(frozen=True)
class LoggedModel:
    """A model logged to an MLflow run with its fingerprint, and registered when asked."""

    run_id: str
    artifact_uri: str  # "runs:/<run_id>/<artifact_path>"
    local_path: Path  # the saved model directory that was fingerprinted and logged
    fingerprint_path: Path  # local_path / "envprint.fp"
    fingerprint: Fingerprint
    keyid: str | None  # the key that signed it; None when unsigned
    model_uri: str | None = None  # "models:/<name>/<version>" when registered
    version: str | None = None


def _tracking() -> str:
    return _USERINFO.sub("", mlflow.get_tracking_uri())


def _mlflow_error(what: str, e: Exception) -> UsageError:
    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return UsageError(f"{what}: MLflow: {message}", hint=_store_hint(e))


def _store_hint(e: Exception) -> str:
    """Returns what to do about an MLflow error: the store's own refusal when it is one, else what to check."""
    if isinstance(e, UnsupportedModelRegistryStoreURIException):
        uri = _USERINFO.sub("", mlflow.get_registry_uri())
        scheme = uri.partition(":")[0].partition("+")[0].lower()  # postgresql+psycopg2 -> postgresql
        if scheme in DATABASE_ENGINES:
            return (
                f"a database store ({uri}) needs the full MLflow package (SQLAlchemy): "
                "pip install mlflow; mlflow-skinny alone reads a tracking server (http(s)://) or, with "
                "MLFLOW_ALLOW_FILE_STORE=true, a file: store"
            )
        schemes = ", ".join(s or "a path" for s in e.supported_uri_schemes)
        return f"set MLFLOW_TRACKING_URI (now {_tracking()}) to a store this MLflow supports: {schemes}"
    # MLflow 3 refuses the file store with a plain MlflowException; its message names the opt-in variable
    if "MLFLOW_ALLOW_FILE_STORE" in str(e):
        return (
            f"MLflow refuses the file store {_tracking()} unless MLFLOW_ALLOW_FILE_STORE=true is set; "
            "or use a database store (full mlflow package) or a tracking server"
        )
    return f"check the name, version, alias or run id, and MLFLOW_TRACKING_URI (now {_tracking()})"


def log_model(
    model: str | os.PathLike[str] | Callable[[str], object],
    *,
    artifact_path: str = "model",
    key: PrivateKeyLike | None = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    label: str | None = None,
    policy: Any = None,
    probes: bool = True,
    imports: Iterable[str] = (),
    tags: Mapping[str, str] | None = None,
) -> LoggedModel:
    """Returns the model logged to MLflow with a fingerprint bound to every file MLflow wrote.

    `model` is a saved MLflow model directory, or a function that saves one into the path it is
    given (``lambda p: mlflow.sklearn.save_model(clf, p)``). The fingerprint is captured in this
    process after the model is saved, so it binds MLmodel, conda.yaml, requirements.txt,
    python_env.yaml and the weights; it is signed with `key` (a private key or a `Signer`), written
    to ``envprint.fp`` in the directory, and the directory is logged under `artifact_path` of the
    run `run_id` (else the active run, else a new run). With `registered_model_name` the logged
    model is registered. The run gets the tags ``envprint.fingerprint`` and ``envprint.keyid``.

    Raises `UsageError` when the directory is not an MLflow model or MLflow refuses a call.
    """
    if callable(model):
        path = Path(tempfile.mkdtemp(prefix="envprint-mlflow-")) / artifact_path.rstrip("/").split("/")[-1]
        try:
            model(str(path))
        except Exception as e:  # the user's save function: say which step failed
            raise UsageError(f"saving the model to {path} failed: {type(e).__name__}: {e}") from e
    else:
        path = Path(model)
    if not (path / "MLmodel").is_file():
        raise UsageError(
            f"{path}: not an MLflow model directory (no MLmodel file)",
            hint="save it first with mlflow.<flavor>.save_model(model, PATH), or pass that function",
        )
    signer = signer_of(key) if key is not None else None
    fp = capture(
        artifact=path,
        label=label or f"mlflow {artifact_path}",
        policy=policy,
        probes=probes,
        imports=imports,
        tags=tags,
    )
    fp_path = fp.save(path / FINGERPRINT_NAME, key=signer)
    try:
        client = MlflowClient()
        if run_id is None and mlflow.active_run() is None:
            with mlflow.start_run() as run:
                return _log(client, run.info.run_id, path, fp, fp_path, signer, artifact_path, registered_model_name)
        rid = run_id or mlflow.active_run().info.run_id  # type: ignore[union-attr]
        return _log(client, rid, path, fp, fp_path, signer, artifact_path, registered_model_name)
    except UsageError:
        raise
    except Exception as e:  # MlflowException, OSError of an artifact store: typed, with the tracking URI
        raise _mlflow_error(f"logging {path} to MLflow", e) from None


def _log(
    client: MlflowClient,
    run_id: str,
    path: Path,
    fp: Fingerprint,
    fp_path: Path,
    signer: Any,
    artifact_path: str,
    registered_model_name: str | None,
) -> LoggedModel:
    client.log_artifacts(run_id, str(path), artifact_path)
    client.set_tag(run_id, "envprint.fingerprint", f"{artifact_path}/{FINGERPRINT_NAME}")
    client.set_tag(run_id, "envprint.keyid", signer.keyid if signer is not None else "unsigned")
    artifact_uri = f"runs:/{run_id}/{artifact_path}"
    model_uri = version = None
    if registered_model_name is not None:
        registered = mlflow.register_model(artifact_uri, registered_model_name)
        version = str(registered.version)
        model_uri = f"models:/{registered_model_name}/{version}"
    keyid = signer.keyid if signer is not None else None
    return LoggedModel(run_id, artifact_uri, path, fp_path, fp, keyid, model_uri, version)


def _pinned(reference: str) -> tuple[str, str]:
    """Returns (the reference pinned to a version, what it is) for a models:/ or runs:/ reference."""
    m = _MODELS.fullmatch(reference)
    if m is not None:
        name, version = get_model_name_and_version(MlflowClient(), reference)  # type: ignore[no-untyped-call]
        pinned = f"models:/{name}/{version}"
        detail = MlflowClient().get_model_version(name, str(version))
        return pinned, f"version {version}, run {detail.run_id}" if detail.run_id else f"version {version}"
    if _RUNS.fullmatch(reference) is not None:
        return reference, "run artifact"
    if reference.startswith("models:/") and "/" not in reference[len("models:/") :].rstrip("/"):
        return reference, "logged model"  # MLflow 3 model ids (models:/m-...): already one model
    raise UsageError(
        f"{reference}: not an MLflow model reference",
        hint="use models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID/PATH",
    )


def download(reference: str, dst: str | os.PathLike[str] | None = None) -> ResolvedArtifact:
    """Returns the model a models:/ or runs:/ reference names, downloaded to `dst` (default: a new temporary folder).

    The reference is pinned first (an alias becomes the version it points to now), so what is
    downloaded, verified and loaded is one version even if the alias moves meanwhile. A runs:/
    reference to a single file downloads ``FILE.fp`` beside it when the run has one. `dst` must be
    new or empty: MLflow merges a download into what is there, and a file left from an earlier
    deploy would be verified as part of this model. Raises `UsageError` when `dst` is not empty or
    MLflow cannot find or download the model.
    """
    target = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="envprint-mlflow-"))
    _require_empty(target)
    try:
        pinned, what = _pinned(reference)
    except UsageError:
        raise
    except Exception as e:  # MlflowException RESOURCE_DOES_NOT_EXIST, a registry that cannot be reached...
        raise _mlflow_error(reference, e) from None
    target.mkdir(parents=True, exist_ok=True)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=pinned, dst_path=str(target)))
    except Exception as e:
        raise _mlflow_error(f"downloading {pinned}", e) from None
    fingerprint = local / FINGERPRINT_NAME if local.is_dir() else local.with_name(local.name + ".fp")
    if local.is_file():
        # a single-file model's fingerprint sits beside it in the run; when none was logged, `check` says so
        with contextlib.suppress(Exception):
            mlflow.artifacts.download_artifacts(artifact_uri=pinned + ".fp", dst_path=str(local.parent))
    shown = pinned if pinned == reference else f"{reference} → {pinned}"
    description = f"{shown} ({what}) from MLflow {_tracking()}, downloaded to {redact_path(str(local))}"
    return ResolvedArtifact(local, fingerprint, pinned, description)


def _require_empty(target: Path) -> None:
    """Raises `UsageError` unless `target` is missing or an empty directory."""
    hint = "download to a new or empty directory (dst=), or remove the old download first"
    if target.is_dir():
        try:
            extra = next(iter(sorted(target.iterdir())), None)
        except OSError as e:
            raise UsageError(f"{target}: cannot list the download folder: {e.strerror}", hint=hint) from None
        if extra is not None:
            raise UsageError(
                f"{target}: the download folder is not empty (it holds {extra.name!r}); MLflow would merge "
                "the model into it and the leftover files would be verified as part of the model",
                hint=hint,
            )
    elif target.exists() or target.is_symlink():
        raise UsageError(f"{target}: the download folder is not a directory", hint=hint)


def resolve(reference: str) -> ResolvedArtifact:
    """Returns the downloaded model of a models:/ or runs:/ reference: the resolver of `envprint.artifact.refs`.

    The download goes to a new temporary folder, removed when the process exits (`envprint check`
    leaves nothing behind); to keep it, or to load what was verified, use `download(dst=)` or `load_model`.
    """
    target = Path(tempfile.mkdtemp(prefix="envprint-mlflow-"))
    atexit.register(shutil.rmtree, target, True)
    return download(reference, target)


def load_model(
    reference: str | os.PathLike[str],
    *,
    trusted_keys: TrustedKeysLike | None,
    policy: Any = None,
    dst: str | os.PathLike[str] | None = None,
    loader: Callable[[str], Any] | None = None,
    imports: Iterable[str] = (),
    **guard_options: Any,
) -> Any:
    """Returns the MLflow model at `reference` after `envprint.guard()` passed on the very files loaded.

    `reference` is a models:/ or runs:/ reference (downloaded to `dst` first, a new or empty
    directory) or a local model directory. Before the guard compares this process, the libraries of
    the model's flavors are imported (`FLAVOR_MODULES`: sklearn, torch, xgboost..., and a
    ``python_function`` loader module outside MLflow), then `imports`: the process is measured with
    the model's libraries and their native runtimes loaded, as at training. The flavors are read
    from the MLmodel only once its bytes match the signed manifest; a library that is not installed
    is skipped and logged. The guard verifies the signature with `trusted_keys`, every file against
    the signed manifest, and the environment under `policy` (`guard_options` go to `guard`); only
    then is the same local copy loaded with `loader` (default ``mlflow.pyfunc.load_model``), so
    nothing is fetched again between the check and the load. Raises what `guard` raises
    (`SignatureError`, `ArtifactMismatchError`, `EnvironmentMismatch`) before anything is
    unpickled, and `UsageError` when a module of `imports` cannot be imported.
    """
    local = download(str(reference), dst).path if _is_reference(reference) else Path(reference)
    flavors = _verified_flavors(local, trusted_keys, policy, guard_options.get("fingerprint"))
    _import_flavor_modules(local, flavors)
    import_modules(imports)
    result: GuardResult = guard(local, trusted_keys=trusted_keys, policy=policy, **guard_options)
    load = loader if loader is not None else mlflow.pyfunc.load_model
    try:
        return load(str(result.artifact_path or local))
    except Exception as e:  # MLflow's own loading errors, after the files were verified
        raise UsageError(f"{local}: verified, but MLflow cannot load it: {type(e).__name__}: {e}") from e


def _verified_flavors(
    local: Path, trusted_keys: TrustedKeysLike | None, policy: Any, fingerprint: Any
) -> Mapping[str, Any]:
    """Returns the flavors of the model's MLmodel when its bytes are the ones signed; {} otherwise.

    The MLmodel names the modules to import, so it is trusted only as far as the guard will trust
    it: the fingerprint authenticated as `guard` does and the file's sha256 equal to the manifest's.
    Anything short of that imports nothing and leaves the refusal, with its full report, to `guard`.
    """
    mlmodel = local / "MLmodel"
    if not mlmodel.is_file():  # a single-file model: no flavors to read
        return {}
    try:
        fp_path = locate(local, fingerprint=fingerprint).fingerprint
        envelope = read_envelope(fp_path)
        allow_unsigned = policy is not None and resolve_policy(policy).allow_unsigned
        authenticate(
            envelope, trusted_keys, allow_unsigned=allow_unsigned, keys_required=not allow_unsigned, source=str(fp_path)
        )
        manifest = decode_fingerprint(envelope, source=str(fp_path)).artifact
        data = read_regular(mlmodel, _MLMODEL_LIMIT, "MLmodel")
    except EnvprintError:
        return {}
    signed = {f.path: f.sha256 for f in manifest.files} if manifest is not None else {}
    if signed.get("MLmodel") != hashlib.sha256(data).hexdigest():
        return {}
    try:
        # MLflow's own reader (yaml.safe_load, then Model.from_dict) on the bytes just hashed
        flavors = Model.from_dict(yaml.safe_load(data)).flavors
    except Exception as e:  # a signed MLmodel MLflow cannot read: its loader will say so after the guard
        logger.warning(
            "load_model: %s: MLflow cannot read it (%s: %s); no flavor imported", mlmodel, type(e).__name__, e
        )
        return {}
    return flavors if isinstance(flavors, Mapping) else {}


def _flavor_modules(flavors: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Returns (module, flavor) for each library the flavors name, in MLmodel order, without repeats."""
    out: dict[str, str] = {}
    for flavor, conf in flavors.items():
        module = FLAVOR_MODULES.get(str(flavor))
        if flavor == "python_function" and isinstance(conf, Mapping):
            loader_module = conf.get("loader_module")
            # mlflow.<flavor> is MLflow's glue, imported by the loader; the flavor's own entry names the library
            if isinstance(loader_module, str) and not loader_module.startswith("mlflow."):
                module = loader_module
        if module is not None:
            out.setdefault(module, str(flavor))
    return list(out.items())


def _import_flavor_modules(local: Path, flavors: Mapping[str, Any]) -> None:
    """Imports the library each flavor names; one not installed (or failing) is skipped and logged."""
    imported, skipped = [], []
    for module, flavor in _flavor_modules(flavors):
        if importlib.util.find_spec(module.partition(".")[0]) is None:
            skipped.append(f"{module} (flavor {flavor}): not installed")
            continue
        try:
            importlib.import_module(module)
        except Exception as e:  # ImportError, or anything the library raises on import: the loader will fail too
            skipped.append(f"{module} (flavor {flavor}): {type(e).__name__}: {e}")
            continue
        imported.append(f"{module} (flavor {flavor})")
    if imported:
        logger.info("load_model: %s: imported %s before the guard", local, ", ".join(imported))
    if skipped:
        logger.warning("load_model: %s: not imported before the guard, so not measured: %s", local, "; ".join(skipped))


def _is_reference(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and target.startswith(SCHEMES)
