"""The three presets: `strict` (every identity difference refuses), `default`, `lenient`."""

from __future__ import annotations

from envprint.policy.evaluate import Policy
from envprint.policy.rules import Exact, ProbeTolerance, Rule, SameRelease, Warn
from envprint.report import Severity

__all__ = ["DEFAULT_MAX_ULP", "PRESETS"]

#: ULP tolerance of the default preset for float probe differences (f32 BLAS/ufunc noise is 1-4 ULP).
#: Its exact rules apply to warning and critical findings: info findings (an installer name, whether
#: CUDA is initialised yet) are reported, never refused.
DEFAULT_MAX_ULP = 8

_DEFAULT_RULES: tuple[Rule, ...] = (
    # seeds do not change a serving model's numbers (serving processes do not seed): warn
    Warn("determinism.seeds.*"),
    Warn("determinism.frameworks.*.global_seed"),
    # a framework the reference imported that this side did not capture: a blind spot, with the fix
    Warn("determinism.frameworks.*", kind="framework.imported"),
    # a distribution the reference process never imported (nor needed) shaped nothing it computed
    Warn("packages.*", kind="package.unused"),
    Exact("packages.@numerics", severity="warning"),
    Warn("packages.*"),
    SameRelease("python.version", parts=2),
    Exact("python.implementation", severity="warning"),
    Exact("python.hash_algorithm", severity="warning"),
    Exact("gpu.devices.*.name", severity="warning"),
    Exact("gpu.devices.*.compute_capability", severity="warning"),
    SameRelease("gpu.driver_version", parts=1),
    SameRelease("gpu.nvml_version", parts=2),  # "12.550.54.15": moves with the driver
    Exact("gpu.cuda_driver_version", severity="warning"),
    Exact("gpu", severity="warning"),
    Exact("determinism.frameworks.*.cuda_version", severity="warning"),
    Exact("determinism.frameworks.*.cudnn_version", severity="warning"),
    Exact("determinism.variables.*", severity="warning"),
    Exact("determinism.hash_randomization", severity="warning"),
    Exact("determinism.frameworks.*", severity="warning"),
    Exact("blas.libraries.*.architecture", severity="warning"),
    Exact("blas.libraries.*.num_threads", severity="warning"),
    Exact("blas.libraries.*.internal_api", severity="warning"),
    Exact("blas.libraries.*", severity="warning"),
    Exact("locale_time.tz_env", severity="warning"),
    Exact("locale_time.local_zone", severity="warning"),
    Exact("locale_time.std_offset_seconds", severity="warning"),
    Exact("locale_time.tzdata_*", severity="warning"),
    Exact("locale_time.locale.*", severity="warning"),
    Exact("locale_time.preferred_encoding", severity="warning"),
    Exact("locale_time.utf8_mode", severity="warning"),
    ProbeTolerance(probe="*", max_ulp=DEFAULT_MAX_ULP),
)

PRESETS: dict[str, Policy] = {
    "strict": Policy(name="strict", rules=(), fail_on=Severity.info, identity_exact=True),
    "default": Policy(name="default", rules=_DEFAULT_RULES, fail_on=Severity.critical, golden_clears=True),
    "lenient": Policy(
        name="lenient", rules=(ProbeTolerance(probe="*", max_ulp=2**62),), fail_on=Severity.critical, golden_clears=True
    ),
}
