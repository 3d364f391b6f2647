"""MLflow: log a model with its signed fingerprint, and check it where MLflow keeps it.

Needs ``pip install 'envprint[mlflow]'`` (mlflow-skinny). The whole loop (docs/mlflow.md)::

    from envprint.integrations import mlflow as envprint_mlflow

    # training: save the model, fingerprint it (binding MLmodel, conda.yaml, requirements.txt,
    # python_env.yaml and the weights), sign, log to the run, register
    logged = envprint_mlflow.log_model(
        lambda path: mlflow.pyfunc.save_model(path, python_model="model.py"),
        key="train.key", registered_model_name="churn",
    )

    # serving: download, verify the signature and every file, compare the environment, then load
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
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
from mlflow import MlflowClient
from mlflow.store.artifact.utils.models import get_model_name_and_version

from envprint.artifact import FINGERPRINT_NAME
from envprint.artifact.refs import ResolvedArtifact
from envprint.capturing import capture
from envprint.errors import UsageError
from envprint.model import Fingerprint
from envprint.privacy import redact_path
from envprint.serving import GuardResult, guard
from envprint.signing import PrivateKeyLike, TrustedKeysLike, signer_of

__all__ = [
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
    return UsageError(
        f"{what}: MLflow: {message}",
        hint=f"check the name, version, alias or run id, and MLFLOW_TRACKING_URI (now {_tracking()})",
    )


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
    client = MlflowClient()
    try:
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
    reference to a single file downloads ``FILE.fp`` beside it when the run has one. Raises
    `UsageError` when MLflow cannot find or download it.
    """
    try:
        pinned, what = _pinned(reference)
    except UsageError:
        raise
    except Exception as e:  # MlflowException RESOURCE_DOES_NOT_EXIST, a registry that cannot be reached...
        raise _mlflow_error(reference, e) from None
    target = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="envprint-mlflow-"))
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
    **guard_options: Any,
) -> Any:
    """Returns the MLflow model at `reference` after `envprint.guard()` passed on the very files loaded.

    `reference` is a models:/ or runs:/ reference (downloaded to `dst` first) or a local model
    directory. The guard verifies the signature with `trusted_keys`, every file against the signed
    manifest, and this process's environment under `policy` (`guard_options` go to `guard`); only
    then is the same local copy loaded with `loader` (default ``mlflow.pyfunc.load_model``), so
    nothing is fetched again between the check and the load. Raises what `guard` raises
    (`SignatureError`, `ArtifactMismatchError`, `EnvironmentMismatch`) before anything is unpickled.
    """
    local = download(str(reference), dst).path if _is_reference(reference) else Path(reference)
    result: GuardResult = guard(local, trusted_keys=trusted_keys, policy=policy, **guard_options)
    load = loader if loader is not None else mlflow.pyfunc.load_model
    try:
        return load(str(result.artifact_path or local))
    except Exception as e:  # MLflow's own loading errors, after the files were verified
        raise UsageError(f"{local}: verified, but MLflow cannot load it: {type(e).__name__}: {e}") from e


def _is_reference(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and target.startswith(SCHEMES)
