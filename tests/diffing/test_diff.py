"""diff(): kinds, severities, attribution, identity, symmetry — over constructed fingerprint pairs."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envprint._base import pending
from envprint.diffing import NORMWISE_CRITICAL, diff, identity_digest, identity_projection, package_role, version_change
from envprint.explain import CATALOGUE, KINDS
from envprint.model import (
    ArtifactFile,
    ArtifactManifest,
    BlasLibrary,
    Fingerprint,
    GpuDevice,
    GpuInfo,
    NumpySimd,
    Package,
    PackageOrigin,
    ProbeResult,
    Unavailable,
)
from envprint.render import Format, render
from envprint.report import DiffReport, Finding, Severity
from envprint.testing import edit_section as edit
from envprint.testing import float_output, lines_output, with_package, with_probe, with_variable
from envprint.testing import probe_result as probe
from scripts.regen_golden import FIXTURES

#: kinds emitted by other modules (the policy engine), documented in the same catalogue
NOT_FROM_DIFF = {"policy.version"}


def train() -> Fingerprint:
    return FIXTURES["train"]()


def with_framework(fp: Fingerprint, **state: Any) -> Fingerprint:
    return edit(fp, "determinism", frameworks={"tensorflow": state} if state else {})


def with_locale(fp: Fingerprint, **changes: Any) -> Fingerprint:
    return edit(fp, "locale_time", **changes)


def by_path(report: DiffReport) -> dict[str, Finding]:
    return {f.path: f for f in report.findings}


TF = {"version": "2.20.0", "op_determinism": False, "tensor_float_32": True, "onednn_enabled": True,
      "intra_op_threads": 0, "cuda_version": "", "visible_devices": "CPU:0", "xla_something": 1}  # fmt: skip
GPU = GpuInfo(
    "535.104.05", "12.2", "12.535.104",
    {"0": GpuDevice("NVIDIA A100-SXM4-80GB", "8.0", 85_899_345_920, "disabled", "enabled", {}, "GPU-1", "0:1")},
)  # fmt: skip
GEMM = train().probes["blas_gemm_f32"]  # type: ignore[index]


def _gpu(**device: Any) -> GpuInfo:
    return dataclasses.replace(GPU, devices={"0": dataclasses.replace(GPU.devices["0"], **device)})


def _probe_with(**changes: Any) -> ProbeResult:
    return dataclasses.replace(GEMM, **changes)


def _golden(scale: float) -> ProbeResult:
    """Returns recorded golden predictions (a transform probe of kind "model") of a model scaled by `scale`."""
    import numpy as np

    from envprint import parity

    x = np.array([[0.5, 1.0], [2.0, 0.25]])
    return parity.Transform("predictions", lambda v: v.sum(axis=1) * scale, x, kind="model").record()


def _fill(fill: float, *, raises: bool = False) -> ProbeResult:
    """Returns a recorded transform probe (group "parity") that fills missing ages with `fill`."""
    import numpy as np

    from envprint import parity

    def transform(x: Any) -> Any:
        if raises:
            raise ValueError("column 'age' missing")
        return np.where(np.isnan(x), fill, x)

    return parity.Transform("fill_age", transform, np.array([30.0, float("nan"), 45.0])).record()


def _artifact(digest: str, name: str = "model") -> ArtifactManifest:
    return ArtifactManifest(name, "directory", digest, (ArtifactFile("w.bin", 4, digest),))


# (kind, path, severity, a, b): one constructed pair per kind diff can emit
Pair = tuple[str, str, Severity, Callable[[], Fingerprint], Callable[[], Fingerprint]]
T = train
PAIRS: list[Pair] = [
    ("descriptive", "meta.hostname", Severity.info, T, lambda: edit(T(), "meta", hostname="other")),
    ("measured.unavailable", "gpu", Severity.warning, T, lambda: T().replace(gpu=GPU)),  # unmeasured in reference
    ("measured.unavailable", "cpu", Severity.critical, T, lambda: T().replace(cpu=Unavailable("no /proc/cpuinfo"))),
    ("measured.pending", "determinism.frameworks.tensorflow.visible_devices", Severity.warning,
     lambda: with_framework(T(), **TF),
     lambda: with_framework(T(), **{**TF, "visible_devices": pending("the TensorFlow runtime is not initialised")})),
    ("meta.schema", "meta.schema_version", Severity.info, T, lambda: edit(T(), "meta", schema_version=2)),
    ("python.version", "python.version", Severity.critical, T, lambda: edit(T(), "python", version="3.12.1")),
    ("python.implementation", "python.implementation", Severity.critical, T,
     lambda: edit(T(), "python", implementation="pypy")),
    ("python.hash_algorithm", "python.hash_algorithm", Severity.critical, T,
     lambda: edit(T(), "python", hash_algorithm="siphash24")),
    ("python.unicode", "python.unicode_version", Severity.warning, T,
     lambda: edit(T(), "python", unicode_version="15.0.0")),
    ("python.build", "python.compiler", Severity.warning, T, lambda: edit(T(), "python", compiler="Clang 17")),
    ("package.version", "packages.numpy.version", Severity.critical, T,
     lambda: with_package(T(), "numpy", Package("2.4.0", None, "pip", ()))),
    ("package.build", "packages.numpy.version", Severity.critical,
     lambda: with_package(T(), "numpy", Package("2.3.5+cu121", "cu121", "pip", ())),
     lambda: with_package(T(), "numpy", Package("2.3.5+cpu", "cpu", "pip", ()))),
    ("package.added", "packages.torch", Severity.warning, T,
     lambda: with_package(T(), "torch", Package("2.8.0", None, "pip", ()))),
    ("package.removed", "packages.scikit-learn", Severity.warning, T,
     lambda: with_package(T(), "scikit-learn", None)),
    ("package.unused", "packages.pandas.version", Severity.warning,
     lambda: with_package(T(), "pandas", Package("2.3.0", None, "pip", (), used=False)),
     lambda: with_package(T(), "pandas", Package("3.0.0", None, "pip", ()))),
    ("package.unreadable", "packages.typer.unreadable", Severity.warning, T,
     lambda: with_package(T(), "typer", Package(Unavailable("no METADATA"), None, None, (), "no METADATA"))),
    ("package.installer", "packages.typer.installer", Severity.info, T,
     lambda: with_package(T(), "typer", Package("0.29.2", None, "uv", ("py3-none-any",)))),
    ("package.origin", "packages.typer.origin", Severity.warning, T,
     lambda: with_package(T(), "typer", dataclasses.replace(
         T().packages["typer"], origin=PackageOrigin("editable", url="file:///src/typer")))),  # type: ignore[index]
    ("module.imported", "imported.torch", Severity.info, T,
     lambda: T().replace(imported={**T().imported, "torch": "2.8.0"})),  # type: ignore[dict-item]
    ("platform.machine", "platform.machine", Severity.critical, T, lambda: edit(T(), "platform", machine="aarch64")),
    ("platform.libc", "platform.libc_version", Severity.warning, T,
     lambda: edit(T(), "platform", libc_version="2.39")),
    ("platform.os", "platform.os_version", Severity.info, T, lambda: edit(T(), "platform", os_version="13")),
    ("platform.kernel", "platform.kernel", Severity.info, T, lambda: edit(T(), "platform", kernel="6.8.0")),
    ("cpu.model", "cpu.model_name", Severity.warning, T, lambda: edit(T(), "cpu", model_name="Intel Xeon")),
    ("cpu.isa", "cpu.flags", Severity.warning, T,
     lambda: edit(T(), "cpu", flags=("avx", "avx2", "avx512f", "f16c", "fma", "sse4_2"))),
    ("cpu.numpy_simd", "cpu.numpy_simd.found", Severity.critical, T,
     lambda: edit(T(), "cpu", numpy_simd=dataclasses.replace(T().cpu.numpy_simd, found=()))),  # type: ignore[union-attr]
    ("cpu.cores", "cpu.affinity", Severity.warning, T, lambda: edit(T(), "cpu", affinity=1)),
    ("cpu.hypervisor", "cpu.hypervisor", Severity.info, T, lambda: edit(T(), "cpu", hypervisor=False)),
    ("cpu.cache", "cpu.cache.L3", Severity.info, T, lambda: edit(T(), "cpu", cache={"L2": "512K", "L3": "16384K"})),
    ("gpu.driver", "gpu.driver_version", Severity.critical, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=dataclasses.replace(GPU, driver_version="550.54.15"))),
    ("gpu.cuda", "gpu.cuda_driver_version", Severity.warning, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=dataclasses.replace(GPU, cuda_driver_version="12.4"))),
    ("gpu.nvml", "gpu.nvml_version", Severity.info, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=dataclasses.replace(GPU, nvml_version="12.550"))),
    ("gpu.model", "gpu.devices.0.name", Severity.critical, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=_gpu(name="NVIDIA H100 80GB HBM3"))),
    ("gpu.mig", "gpu.devices.0.mig_mode", Severity.warning, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=_gpu(mig_mode="enabled"))),
    ("gpu.ecc", "gpu.devices.0.ecc_mode", Severity.info, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=_gpu(ecc_mode="disabled"))),
    ("gpu.memory", "gpu.devices.0.memory_total_bytes", Severity.info, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=_gpu(memory_total_bytes=42_949_672_960))),
    ("gpu.device", "gpu.devices.1", Severity.warning, lambda: T().replace(gpu=GPU),
     lambda: T().replace(gpu=dataclasses.replace(GPU, devices={**GPU.devices, "1": GPU.devices["0"]}))),
    ("blas.kernel", "blas.libraries.numpy/openblas.architecture", Severity.warning, T,
     lambda: _blas(architecture="SkylakeX")),
    ("blas.threads", "blas.libraries.numpy/openblas.num_threads", Severity.warning, T, lambda: _blas(num_threads=1)),
    ("blas.version", "blas.libraries.numpy/openblas.version", Severity.warning, T, lambda: _blas(version="0.3.31")),
    ("blas.library", "blas.libraries.torch/mkl", Severity.critical, T, lambda: _blas_added("torch/mkl")),
    ("determinism.hash_seed", "determinism.variables.PYTHONHASHSEED", Severity.critical, T,
     lambda: with_variable(T(), "PYTHONHASHSEED", "1")),
    ("determinism.hash_randomization", "determinism.hash_randomization", Severity.critical, T,
     lambda: edit(T(), "determinism", hash_randomization=not T().determinism.hash_randomization)),  # type: ignore[union-attr]
    ("determinism.kernel", "determinism.variables.OPENBLAS_CORETYPE", Severity.warning,
     lambda: with_variable(T(), "OPENBLAS_CORETYPE", None), lambda: with_variable(T(), "OPENBLAS_CORETYPE", "Zen")),
    ("determinism.precision", "determinism.variables.NVIDIA_TF32_OVERRIDE", Severity.critical,
     lambda: with_variable(T(), "NVIDIA_TF32_OVERRIDE", "0"), lambda: with_variable(T(), "NVIDIA_TF32_OVERRIDE", None)),
    ("determinism.flag", "determinism.variables.TF_DETERMINISTIC_OPS", Severity.warning,
     lambda: with_variable(T(), "TF_DETERMINISTIC_OPS", "1"), lambda: with_variable(T(), "TF_DETERMINISTIC_OPS", "0")),
    ("determinism.backend", "determinism.variables.KERAS_BACKEND", Severity.critical,
     lambda: with_variable(T(), "KERAS_BACKEND", "tensorflow"), lambda: with_variable(T(), "KERAS_BACKEND", "jax")),
    ("determinism.threads", "determinism.variables.OMP_NUM_THREADS", Severity.warning, T,
     lambda: with_variable(T(), "OMP_NUM_THREADS", "4")),
    ("determinism.seed", "determinism.seeds.numpy", Severity.warning, T,
     lambda: edit(T(), "determinism", seeds={"numpy": 7})),
    ("framework.imported", "determinism.frameworks.tensorflow", Severity.info, T, lambda: with_framework(T(), **TF)),
    ("framework.version", "determinism.frameworks.tensorflow.version", Severity.info,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "version": "2.19.0"})),
    ("framework.determinism", "determinism.frameworks.tensorflow.op_determinism", Severity.warning,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "op_determinism": True})),
    ("framework.precision", "determinism.frameworks.tensorflow.tensor_float_32", Severity.critical,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "tensor_float_32": False})),
    ("framework.kernel", "determinism.frameworks.tensorflow.onednn_enabled", Severity.warning,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "onednn_enabled": False})),
    ("framework.threads", "determinism.frameworks.tensorflow.intra_op_threads", Severity.warning,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "intra_op_threads": 2})),
    ("framework.cuda", "determinism.frameworks.tensorflow.cuda_version", Severity.critical,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "cuda_version": "12.5"})),
    ("framework.devices", "determinism.frameworks.tensorflow.visible_devices", Severity.warning,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "visible_devices": "GPU:0"})),
    ("framework.setting", "determinism.frameworks.tensorflow.xla_something", Severity.warning,
     lambda: with_framework(T(), **TF), lambda: with_framework(T(), **{**TF, "xla_something": 2})),
    ("env.variable", "env.LD_PRELOAD", Severity.warning, T, lambda: T().replace(env={"LD_PRELOAD": "/x.so"})),
    ("env.placement", "env.KMP_AFFINITY", Severity.info, T, lambda: T().replace(env={"KMP_AFFINITY": "compact"})),
    ("time.tz_variable", "locale_time.tz_env", Severity.warning, T,
     lambda: with_locale(T(), tz_env="Asia/Tokyo", local_zone="Asia/Tokyo")),
    ("time.zone", "locale_time.local_zone", Severity.critical, T, lambda: with_locale(T(), local_zone="Asia/Tokyo")),
    ("time.tzdata", "locale_time.tzdata_system", Severity.warning, T, lambda: with_locale(T(), tzdata_system="2026a")),
    ("locale.category", "locale_time.locale.LC_NUMERIC", Severity.critical, T,
     lambda: with_locale(T(), locale={"LC_CTYPE": "C.UTF-8", "LC_NUMERIC": "de_DE.UTF-8"})),
    ("locale.env", "locale_time.locale_env.LANG", Severity.warning, T,
     lambda: with_locale(T(), locale_env={"LANG": "de_DE.UTF-8"})),
    ("locale.encoding", "locale_time.preferred_encoding", Severity.critical, T,
     lambda: with_locale(T(), preferred_encoding="ANSI_X3.4-1968")),
    ("custom.differs", "custom.run", Severity.info, T, lambda: T().replace(custom={"run": "42"})),
    ("artifact.unbound", "artifact", Severity.info, T, lambda: T().replace(artifact=_artifact("ab" * 32))),
    ("artifact.differs", "artifact.digest", Severity.critical, lambda: T().replace(artifact=_artifact("ab" * 32)),
     lambda: T().replace(artifact=_artifact("cd" * 32))),
    ("policy.differs", "policy", Severity.info, T, lambda: T().replace(policy={"preset": "strict"})),
    ("freshness.profile", "freshness", Severity.info, T, lambda: T().replace(freshness={"features": {}})),
    ("probe.missing", "probes.blas_gemm_f32", Severity.info, T, lambda: with_probe(T(), "blas_gemm_f32", None)),
    ("probe.skipped", "probes.blas_gemm_f32", Severity.warning, T,
     lambda: with_probe(T(), "blas_gemm_f32", _probe_with(status="skipped", reason="time budget spent"))),
    ("probe.skipped", "probes.blas_gemm_f32", Severity.info,
     lambda: with_probe(T(), "blas_gemm_f32", _probe_with(status="skipped", reason="time budget spent")), T),
    ("probe.failed", "probes.blas_gemm_f32", Severity.warning, T,
     lambda: with_probe(T(), "blas_gemm_f32", _probe_with(status="failed", reason="OSError: no libm"))),
    ("probe.incomparable", "probes.blas_gemm_f32", Severity.info, T,
     lambda: with_probe(T(), "blas_gemm_f32", _probe_with(version=2))),
    ("probe.unstable", "probes.blas_gemm_f32", Severity.warning, T,
     lambda: with_probe(T(), "blas_gemm_f32", _probe_with(stable=False, reason="unstable: the second run differed"))),
    ("probe.differs", "probes.blas_gemm_f32", Severity.warning, T, lambda: FIXTURES["serve"]()),
    ("parity.differs", "probes.fill_age", Severity.critical, lambda: with_probe(T(), "fill_age", _fill(37.5)),
     lambda: with_probe(T(), "fill_age", _fill(0.0))),
    ("parity.error", "probes.fill_age", Severity.critical, lambda: with_probe(T(), "fill_age", _fill(37.5)),
     lambda: with_probe(T(), "fill_age", _fill(37.5, raises=True))),
    ("parity.missing", "probes.fill_age", Severity.warning, lambda: with_probe(T(), "fill_age", _fill(37.5)), T),
    ("parity.added", "probes.fill_age", Severity.info, T, lambda: with_probe(T(), "fill_age", _fill(37.5))),
    ("model.predictions", "probes.predictions", Severity.critical, lambda: with_probe(T(), "predictions", _golden(1.0)),
     lambda: with_probe(T(), "predictions", _golden(1.5))),
    ("model.match", "probes.predictions", Severity.info, lambda: with_probe(T(), "predictions", _golden(1.0)),
     lambda: with_probe(T(), "predictions", _golden(1.0))),
    ("model.unchecked", "probes.predictions", Severity.warning, lambda: with_probe(T(), "predictions", _golden(1.0)),
     T),
    ("golden.inputs", "golden_inputs", Severity.info, T, lambda: T().replace(golden_inputs={"predictions": b"x"})),
]  # fmt: skip


def _blas(**changes: Any) -> Fingerprint:
    fp = T()
    libs = fp.blas.libraries  # type: ignore[union-attr]
    return edit(fp, "blas", libraries={k: dataclasses.replace(v, **changes) for k, v in libs.items()})


def _blas_added(key: str) -> Fingerprint:
    fp = T()
    libs = dict(fp.blas.libraries)  # type: ignore[union-attr]
    libs[key] = BlasLibrary("blas", "mkl", "torch", "2025.0", None, "intel", 2)
    return edit(fp, "blas", libraries=libs)


@pytest.mark.parametrize(("kind", "path", "severity", "make_a", "make_b"), PAIRS, ids=[p[0] for p in PAIRS])
def test_each_kind_is_reported_at_its_path_with_its_severity(
    kind: str, path: str, severity: Severity, make_a: Callable[[], Fingerprint], make_b: Callable[[], Fingerprint]
) -> None:
    found = by_path(diff(make_a(), make_b()))
    assert path in found, sorted(found)
    assert (found[path].kind, found[path].severity) == (kind, severity)
    assert found[path].title and found[path].why and found[path].remedy


def test_the_pairs_cover_every_kind_in_the_catalogue() -> None:
    emitted = {f.kind for _, _, _, a, b in PAIRS for f in diff(a(), b()).findings}
    # field.differs is the catch-all for fields a later schema adds: no field of this one reaches it
    assert emitted | {"field.differs"} == set(KINDS) - NOT_FROM_DIFF
    assert set(CATALOGUE) == set(KINDS)


def test_an_unknown_field_is_reported_as_field_differs() -> None:
    from envprint.diffing.rules import rule_for as _rule_for  # the catch-all rule, reachable only by fields added later

    rule, _ = _rule_for("sysinfo.new_field")
    assert (rule.kind, rule.severity) == ("field.differs", Severity.warning)


def test_a_fingerprint_equals_itself() -> None:
    fp = train()
    assert diff(fp, fp).findings == ()
    assert diff(fp, FIXTURES["train"]()).verdict == "EQUIVALENT: no differences"


def test_a_second_capture_of_one_environment_gives_only_info() -> None:
    report = diff(train(), FIXTURES["same"]())
    assert report.equivalent and report.exit_status() == 0
    assert {f.path for f in report.findings} == {"meta.hostname", "determinism.rng_state"}
    assert not any(f.identity for f in report.findings)
    assert identity_digest(train()) == identity_digest(FIXTURES["same"]())


def test_local_capture_projection_is_plain_and_stable(local_fingerprint: Fingerprint) -> None:
    assert identity_digest(local_fingerprint) == identity_digest(local_fingerprint.replace())
    text = json.dumps(identity_projection(local_fingerprint))
    assert "hostname" not in text and "rng_state" not in text and "pid" not in text


def test_package_roles() -> None:
    assert [package_role(n) for n in ("numpy", "NumPy", "tensorflow_cpu", "nvidia-cublas-cu12", "mkl-service")] == [
        "numerics"
    ] * 5
    assert [package_role(n) for n in ("pip", "pytest-xdist", "types-requests", "ruff")] == ["tooling"] * 4
    assert [package_role(n) for n in ("requests", "nvidia-ml-py", "typer")] == ["library"] * 3


@pytest.mark.parametrize(
    ("old", "new", "level"),
    [
        ("2.3.5", "3.0.0", "major"),
        ("2.3.5", "2.4.0", "minor"),
        ("2.3.5", "2.3.6", "patch"),
        ("2.3.5rc1", "2.3.5", "suffix"),
        ("2.3.0+cu121", "2.3.0+cpu", "build"),
        ("1.0", "1.0.0", "equivalent"),
        ("2025b", "not a version", "unparsed"),
    ],
)
def test_version_change_names_the_most_significant_component(old: str, new: str, level: str) -> None:
    assert version_change(old, new) == level


def test_package_severity_follows_its_role() -> None:
    a = train()
    b = with_package(
        with_package(a, "numpy", Package("2.3.6", None, "pip", ())), "pip", Package("25.0", None, "pip", ())
    )
    b = with_package(b, "typer", Package("0.30.0", None, "pip", ("py3-none-any",)))
    found = by_path(diff(a, b))
    assert found["packages.numpy.version"].severity is Severity.critical
    assert found["packages.typer.version"].severity is Severity.warning
    assert found["packages.pip.version"].severity is Severity.info
    assert found["packages.numpy.version"].title == "numpy 2.3.5 → 2.3.6 (patch; numerics)"


def test_python_patch_is_a_warning_and_minor_critical() -> None:
    found = by_path(diff(train(), edit(train(), "python", version="3.11.9")))
    assert found["python.version"].severity is Severity.warning
    assert found["python.version"].title == "Python 3.11.7 → 3.11.9 (patch)"


def test_gpu_driver_minor_is_a_warning() -> None:
    a, b = train().replace(gpu=GPU), train().replace(gpu=dataclasses.replace(GPU, driver_version="535.183.01"))
    assert by_path(diff(a, b))["gpu.driver_version"].severity is Severity.warning


def test_cpu_flag_title_lists_lost_and_gained_flags() -> None:
    b = edit(train(), "cpu", flags=("avx", "avx512f", "f16c", "sse4_2"))
    assert by_path(diff(train(), b))["cpu.flags"].title.endswith("(lost avx2 fma; gained avx512f)")


def test_utc_aliases_are_one_zone_and_not_an_identity_difference() -> None:
    b = with_locale(train(), tz_env="UTC", local_zone="UTC")
    report = diff(train(), b)
    assert report.equivalent
    assert {f.path: f.identity for f in report.findings} == {
        "locale_time.tz_env": False,
        "locale_time.local_zone": False,
    }
    assert identity_digest(train()) == identity_digest(b)


def test_unavailable_on_both_sides_is_not_an_identity_difference() -> None:
    a = edit(train(), "cpu", microarchitecture=Unavailable("no cpuinfo"))
    b = edit(train(), "cpu", microarchitecture=Unavailable("permission denied"))
    (f,) = diff(a, b).findings
    assert (f.kind, f.severity, f.identity) == ("measured.unavailable", Severity.info, False)
    assert identity_digest(a) == identity_digest(b)


def test_random_per_process_hash_order_is_never_a_finding() -> None:
    a = train()
    hash_a = a.probes["hash_order"]  # type: ignore[index]
    b = with_probe(a, "hash_order", dataclasses.replace(hash_a, digest="other"))
    assert diff(a, b).findings == ()


def test_one_sided_random_hash_order_is_info() -> None:
    a = train()
    fixed = probe("hash", {"order": lines_output(("3 1 2",))}, {"hash_seed_fixed": True})
    f = by_path(diff(with_probe(a, "hash_order", fixed), a))["probes.hash_order"]
    assert (f.kind, f.severity) == ("probe.incomparable", Severity.info)


def test_skipped_on_both_sides_for_different_reasons_is_not_a_finding() -> None:
    a = with_probe(train(), "blas_gemm_f32", _probe_with(status="skipped", reason="budget spent (1.2 s elapsed)"))
    b = with_probe(train(), "blas_gemm_f32", _probe_with(status="skipped", reason="budget spent (1.3 s elapsed)"))
    assert diff(a, b).findings == ()


def test_float_probe_difference_carries_magnitude_and_attributed_cause() -> None:
    f = by_path(diff(train(), FIXTURES["serve"]()))["probes.blas_gemm_f32"]
    assert f.magnitude is not None and not f.magnitude.categorical
    assert f.magnitude.max_ulp == 2 and 0 < f.magnitude.normwise < NORMWISE_CRITICAL  # type: ignore[operator]
    assert f.magnitude.outputs == ("c",)
    assert f.cause == "likely cause: OPENBLAS_NUM_THREADS unset → 1 (BLAS numpy/openblas threads 2 → 1)"
    assert f.remedy.startswith("unset OPENBLAS_NUM_THREADS  #")


def test_large_normwise_difference_is_critical() -> None:
    values = [0.75 + i / 64 for i in range(64)]
    a = with_probe(train(), "blas_gemm_f32", probe("blas", {"c": float_output(values)}))
    b = with_probe(train(), "blas_gemm_f32", probe("blas", {"c": float_output([v * 1.001 for v in values])}))
    f = by_path(diff(a, b))["probes.blas_gemm_f32"]
    assert f.severity is Severity.critical and f.magnitude is not None
    assert f.magnitude.normwise is not None and f.magnitude.normwise > NORMWISE_CRITICAL


def test_categorical_probe_differences_are_critical_and_attributed() -> None:
    found = by_path(diff(train(), FIXTURES["serve"]()))
    assert found["probes.sort_ties"].severity is Severity.critical
    assert found["probes.sort_ties"].cause == "likely cause: numpy 2.3.5 → 2.4.6 (minor; numerics)"
    assert found["probes.time_tz"].cause is not None
    assert found["probes.time_tz"].cause.startswith("likely cause: TZ unset → America/Los_Angeles")
    fpenv = found["probes.fpenv"]
    assert fpenv.severity is Severity.critical and fpenv.magnitude is not None
    assert fpenv.magnitude.changed_flags["ftz"] == (False, True)
    assert fpenv.cause is not None and "-ffast-math" in fpenv.cause and "fastfeatures" in fpenv.cause


def test_batch_invariance_flags_are_ulp_level() -> None:
    rows = {"c": float_output([0.5 + i / 64 for i in range(64)])}
    a = with_probe(train(), "batch_invariance", probe("blas", rows, {"batch_classes": "b1=a b64=a"}))
    shifted = {"c": float_output([0.5 + i / 64 + (2**-20 if i == 3 else 0) for i in range(64)])}
    b = with_probe(train(), "batch_invariance", probe("blas", shifted, {"batch_classes": "b1=a b64=b"}))
    f = by_path(diff(a, b))["probes.batch_invariance"]
    assert f.severity is Severity.warning and f.magnitude is not None and not f.magnitude.categorical


def test_unexplained_probe_difference_says_so() -> None:
    a = train()
    b = with_probe(
        a, "ufunc_f32", probe("ufunc", {"exp": float_output([1.5 + i / 64 + 2**-22 for i in range(16)], blocks=2)})
    )
    f = by_path(diff(a, b))["probes.ufunc_f32"]
    assert f.cause is not None and f.cause.startswith("no captured difference explains this")


def test_descriptive_findings_are_info_and_not_identity() -> None:
    report = diff(train(), FIXTURES["serve"]())
    for f in report.findings:
        if not f.identity:
            assert f.severity is Severity.info, f
    assert by_path(report)["meta.hostname"].kind == "descriptive"


def test_report_orders_by_severity_and_exit_status_follows_fail_on() -> None:
    report = diff(train(), FIXTURES["serve"]())
    severities = [f.severity for f in report.findings]
    assert severities == sorted(severities, reverse=True)
    assert report.verdict == "DIFFERENT: 5 critical, 4 warning, 8 info"
    assert (report.exit_status(Severity.info), report.exit_status(Severity.critical)) == (1, 1)
    only_info = diff(train(), FIXTURES["same"]())
    assert (only_info.exit_status(Severity.info), only_info.exit_status(Severity.warning)) == (1, 0)


# ------------------------------------------------------------------------------- property tests

_ASYMMETRIC = frozenset({"measured.unavailable", "measured.pending", "framework.imported", "probe.skipped"})
_MIRROR = {"package.added": "package.removed", "package.removed": "package.added"}
_VERSIONS = ("2.3.5", "2.3.6", "2.4.0", "3.0.0", "2.3.5+cpu")


def _mutations() -> list[Callable[[Fingerprint, int], Fingerprint]]:
    def variable(fp: Fingerprint, i: int) -> Fingerprint:
        names = ("OPENBLAS_NUM_THREADS", "PYTHONHASHSEED", "NPY_DISABLE_CPU_FEATURES", "TF_ENABLE_ONEDNN_OPTS")
        return with_variable(fp, names[i % 4], (None, "0", "1", "AVX512F")[i % 4])

    def package_version(fp: Fingerprint, i: int) -> Fingerprint:
        name = ("numpy", "pip", "typer")[i % 3]
        return with_package(fp, name, Package(_VERSIONS[i % 5], None, "pip", ()))

    def package_presence(fp: Fingerprint, i: int) -> Fingerprint:
        if i % 2:
            return with_package(fp, "scikit-learn", None)
        return with_package(fp, ("torch", "requests")[i % 4 // 2], Package("1.0.0", None, "pip", ()))

    def cpu(fp: Fingerprint, i: int) -> Fingerprint:
        flags = (("avx", "avx2"), ("avx", "avx512f"), ())[i % 3]
        return edit(fp, "cpu", flags=flags, affinity=1 + i % 2, microarchitecture=("Zen 3", "Zen 4")[i % 2])

    def unavailable(fp: Fingerprint, i: int) -> Fingerprint:
        section = ("gpu", "cpu", "env", "packages", "probes")[i % 5]
        return fp.replace(**{section: Unavailable(f"reason {i}")})

    def probe_value(fp: Fingerprint, i: int) -> Fingerprint:
        values = [0.75 + k / 64 + (2**-21 * (i % 3) if k == i % 64 else 0) for k in range(64)]
        return with_probe(fp, "blas_gemm_f32", probe("blas", {"c": float_output(values)}))

    def probe_state(fp: Fingerprint, i: int) -> Fingerprint:
        states = (
            {"status": "skipped", "reason": f"budget {i}"},
            {"status": "failed", "reason": "ValueError"},
            {"stable": False},
            {"version": 2},
            {"random_per_process": True},
        )
        if i % 6 == 5:
            return with_probe(fp, "ufunc_f32", None)
        return with_probe(fp, "blas_gemm_f32", _probe_with(**states[i % 6]))

    def flags(fp: Fingerprint, i: int) -> Fingerprint:
        if isinstance(fp.probes, Unavailable) or "fpenv" not in fp.probes:
            return fp
        fpenv = fp.probes["fpenv"]
        return with_probe(fp, "fpenv", probe("fpenv", dict(fpenv.outputs), {**fpenv.flags, "ftz": bool(i % 2)}))

    def zone(fp: Fingerprint, i: int) -> Fingerprint:
        z = ("Etc/UTC", "UTC", "America/Los_Angeles", "GMT")[i % 4]
        return with_locale(fp, tz_env=(None, z)[i % 2], local_zone=z)

    def descriptive(fp: Fingerprint, i: int) -> Fingerprint:
        return edit(fp, "meta", hostname=f"host-{i}", pid=i)

    def artifact(fp: Fingerprint, i: int) -> Fingerprint:
        return fp.replace(
            artifact=(None, _artifact("ab" * 32), _artifact("cd" * 32), _artifact("ab" * 32, "m2"))[i % 4]
        )

    return [variable, package_version, package_presence, cpu, unavailable, probe_value, probe_state, flags, zone,
            descriptive, artifact]  # fmt: skip


MUTATIONS = _mutations()
_steps = st.lists(st.tuples(st.integers(0, len(MUTATIONS) - 1), st.integers(0, 63)), max_size=5)


def _apply(fp: Fingerprint, steps: list[tuple[int, int]]) -> Fingerprint:
    for which, variant in steps:
        fp = MUTATIONS[which](fp, variant)
    return fp


@pytest.fixture(scope="module")
def real_base() -> Fingerprint:
    """Returns an in-process capture of this environment with the probes the mutations touch."""
    import envprint

    return envprint.capture(probe_groups=["fpenv", "blas", "ufunc", "hash", "time"])


def _check_pair(a: Fingerprint, b: Fingerprint) -> None:
    assert diff(a, a).findings == ()
    ab, ba = diff(a, b), diff(b, a)

    def severity(f: Finding) -> Severity | None:
        # the reference and the other side are not interchangeable for what one side could not measure,
        # nor for what the reference process used (package.unused)
        return None if f.kind in _ASYMMETRIC or f.kind.startswith("package.") else f.severity

    def kind(f: Finding, mirror: bool) -> str:
        if f.kind.startswith("package."):
            return "package"
        return _MIRROR.get(f.kind, f.kind) if mirror else f.kind

    forward = sorted((kind(f, False), f.path, severity(f), repr(f.old), repr(f.new)) for f in ab.findings)
    backward = sorted((kind(f, True), f.path, severity(f), repr(f.new), repr(f.old)) for f in ba.findings)
    assert forward == backward
    for f in ab.findings:
        if f.kind == "measured.unavailable" and isinstance(f.new, dict) and not isinstance(f.old, dict):
            assert f.severity is Severity.critical, f.title  # measured in the reference, not here: fails closed
    for f in ab.findings:
        assert f.kind in CATALOGUE
        assert f.identity or f.severity is Severity.info
        if f.magnitude is not None and f.magnitude.normwise is not None:
            assert math.isfinite(f.magnitude.normwise)
    assert any(f.identity for f in ab.findings) == (identity_digest(a) != identity_digest(b))
    json.loads(render(ab, Format.json))  # renders without NaN, whatever the pair


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_steps, _steps)
def test_diff_is_symmetric_and_consistent_with_identity(
    steps_a: list[tuple[int, int]], steps_b: list[tuple[int, int]]
) -> None:
    _check_pair(_apply(train(), steps_a), _apply(train(), steps_b))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps)
def test_perturbed_real_capture_diffs_symmetrically(real_base: Fingerprint, steps: list[tuple[int, int]]) -> None:
    _check_pair(real_base, _apply(real_base, steps))


# ------------------------------------------------------------------------------------- numpy SIMD

NUMPY_23 = NumpySimd(
    baseline=("SSE", "SSE2", "SSE3"),
    dispatch=("SSSE3", "SSE41", "POPCNT", "SSE42", "AVX", "F16C", "FMA3", "AVX2", "AVX512F", "AVX512CD",
              "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL", "AVX512_SPR"),
    found=("SSSE3", "SSE41", "POPCNT", "SSE42", "AVX", "F16C", "FMA3", "AVX2", "AVX512F", "AVX512CD",
           "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL"),
    not_found=("AVX512_SPR",),
)  # fmt: skip
NUMPY_24 = NumpySimd(
    baseline=("X86_V2",),
    dispatch=("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"),
    found=("X86_V3", "X86_V4", "AVX512_ICL"),
    not_found=("AVX512_SPR",),
)


def _with_simd(simd: NumpySimd) -> Fingerprint:
    return edit(T(), "cpu", numpy_simd=simd)


def test_numpy_simd_targets_renamed_across_numpy_versions_on_one_cpu_are_not_a_difference() -> None:
    report = diff(_with_simd(NUMPY_23), _with_simd(NUMPY_24))
    simd = [f for f in report.findings if f.path.startswith("cpu.numpy_simd")]
    assert simd and all(f.severity is Severity.info and not f.identity for f in simd), simd
    assert identity_digest(_with_simd(NUMPY_23)) == identity_digest(_with_simd(NUMPY_24))


def test_numpy_simd_that_really_lost_avx512_is_critical() -> None:
    capped = dataclasses.replace(NUMPY_24, found=("X86_V3",), not_found=("X86_V4", "AVX512_ICL", "AVX512_SPR"))
    (f,) = [f for f in diff(_with_simd(NUMPY_24), _with_simd(capped)).findings if f.path == "cpu.numpy_simd.found"]
    assert (f.kind, f.severity) == ("cpu.numpy_simd", Severity.critical)
    assert "lost" in f.title and "AVX512F" in f.title and "AVX2" not in f.title


# ------------------------------------------------------------------------------------------ tzdata


def test_tzdata_package_present_on_one_side_only_is_not_a_difference_when_both_read_the_system_database() -> None:
    lt = T().locale_time
    assert not isinstance(lt, Unavailable) and isinstance(lt.tzdata_system, str)
    train = with_package(with_locale(T(), tzdata_package="2026.6"), "tzdata", Package("2026.6", None, "pip", ()))
    serve = with_package(with_locale(T(), tzdata_package=None), "tzdata", None)
    report = diff(train, serve)
    tz = [f for f in report.findings if "tzdata" in f.path]
    assert {f.path for f in tz} == {"packages.tzdata", "locale_time.tzdata_package"}
    assert all(f.severity is Severity.info for f in tz), [(f.path, f.severity) for f in tz]
    assert all("system" in f.title for f in tz)
    assert identity_digest(with_locale(T(), tzdata_package="2026.6")) == identity_digest(
        serve.replace(packages=T().packages)
    )


def test_the_tz_database_actually_read_changing_is_a_warning() -> None:
    without_system = with_locale(T(), tzdata_system=Unavailable("no zoneinfo"), tzdata_package="2026.6")
    older = with_locale(T(), tzdata_system=Unavailable("no zoneinfo"), tzdata_package="2025.1")
    (f,) = [f for f in diff(without_system, older).findings if f.path == "locale_time.tzdata_package"]
    assert (f.kind, f.severity, f.identity) == ("time.tzdata", Severity.warning, True)
    assert "package 2026.6 → package 2025.1" in f.title


def _with_scipy_blas(fp: Fingerprint, *, installed: bool = True, loaded: str | None = "openblas") -> Fingerprint:
    numpy_blas = fp.blas.libraries["numpy/openblas"]  # type: ignore[union-attr]
    libraries = {"numpy/openblas": numpy_blas}
    if loaded is not None:
        libraries[f"scipy/{loaded}"] = dataclasses.replace(numpy_blas, owner="scipy", internal_api=loaded)
    fp = edit(fp, "blas", libraries=libraries)
    scipy = dataclasses.replace(fp.packages["numpy"], version="1.16.3")  # type: ignore[index]
    return with_package(fp, "scipy", scipy if installed else None)


def test_a_blas_library_not_loaded_yet_at_serving_is_pending_not_a_mismatch() -> None:
    # training imported scipy (its OpenBLAS loaded); the serving process guards before importing it
    train = _with_scipy_blas(FIXTURES["train"]())
    serve = _with_scipy_blas(FIXTURES["train"](), loaded=None)
    [f] = [f for f in diff(train, serve).findings if f.path == "blas.libraries.scipy/openblas"]
    assert (f.kind, f.severity) == ("measured.pending", Severity.warning)
    assert "not loaded yet" in f.title and "scipy is installed" in f.title
    # scipy not installed at serving: the library is gone, not pending
    gone = _with_scipy_blas(FIXTURES["train"](), installed=False, loaded=None)
    [f] = [f for f in diff(train, gone).findings if f.path == "blas.libraries.scipy/openblas"]
    assert (f.kind, f.severity) == ("blas.library", Severity.critical)
    # scipy loaded another BLAS at serving: a real difference, whatever is installed
    other = _with_scipy_blas(FIXTURES["train"](), loaded="mkl")
    [f] = [f for f in diff(train, other).findings if f.path == "blas.libraries.scipy/openblas"]
    assert (f.kind, f.severity) == ("blas.library", Severity.critical)
