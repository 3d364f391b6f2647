"""`guard()`: the serving-startup check that refuses to serve in an environment the model was not validated in.

Call it in the model server's startup hook, after the application has imported and configured its
frameworks (thread pools, FTZ, locale are only visible then)::

    import envprint
    envprint.guard("model/", trusted_keys=["/etc/envprint/train.pub"])   # raises EnvironmentMismatch

Order of checks, each failing closed: find the fingerprint → verify its signature against the
trusted keys (before decoding anything) → verify the artifact files against the signed manifest →
capture this process's environment and re-run the probes training recorded → diff → evaluate the
policy (the one signed into the fingerprint, tightened by the local one) → pass, or refuse.

The fingerprint must be bound to the model (captured with ``--artifact``): an unbound one is refused
unless the caller asks for an environment-only check (``env_only=True``, ``envprint check --env-only``).

``ENVPRINT_GUARD=warn`` turns an environment refusal into a loud warning, for incident response
only; it never waives a bad signature or a changed artifact, and it always leaves a trace: a line on
stderr whatever the application's logging, and ``override`` in the result (and `check`'s JSON).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from envprint._base import Record, record
from envprint.artifact import check_binding, locate
from envprint.capturing import capture
from envprint.codec import authenticate, decode_fingerprint
from envprint.diffing import diff
from envprint.envelope import Trust, read_envelope
from envprint.errors import EnvironmentMismatch, UsageError
from envprint.model import Fingerprint, Unavailable
from envprint.policy import Decision, Policy, PolicyResult, resolve_policy
from envprint.policy.load import judge
from envprint.probes import GROUPS
from envprint.render.policy import violations_text
from envprint.report import DiffReport

if TYPE_CHECKING:
    from envprint.signing import TrustedKeysLike

__all__ = ["OVERRIDE_ENV", "GuardResult", "LiveComparison", "compare_live", "guard"]

#: the emergency override: ENVPRINT_GUARD=warn logs a refusal instead of raising
OVERRIDE_ENV = "ENVPRINT_GUARD"

logger = logging.getLogger("envprint")

# Live captures in one process run one at a time: the probes are CPU-bound and share the BLAS thread
# pool, so concurrent runs would only slow each other past the probe budget (skipping heavy probes
# at random) and measure contention instead of the environment.
_CAPTURE_LOCK = threading.Lock()


@record
class GuardResult(Record):
    """What the guard checked and decided."""

    passed: bool  # no violation (waived ones excepted)
    overridden: bool  # there were violations, but on_mismatch="warn" or ENVPRINT_GUARD=warn let it start
    fingerprint_path: Path
    artifact_path: Path | None  # the artifact verified; None when the fingerprint is not bound to one
    trust: Trust  # verified, or unsigned/unverified when the policy allows unsigned fingerprints
    keyids: tuple[str, ...]  # trusted keys that verified the signature
    policy: str  # the policy (or policies) applied
    report: DiffReport
    result: PolicyResult
    seconds: float
    #: the caller asked for an environment-only check: an unbound fingerprint was accepted
    env_only: bool = False
    #: what let a refused environment start ("ENVPRINT_GUARD=warn" or "on_mismatch='warn'"), else None
    override: str | None = None

    @property
    def violations(self) -> tuple[Decision, ...]:
        """Returns the differences that refuse (or would have, when overridden)."""
        return self.result.violations

    @property
    def waived(self) -> tuple[Decision, ...]:
        """Returns the violations a waiver covered."""
        return self.result.waived

    @property
    def allowed(self) -> tuple[Decision, ...]:
        """Returns the differences a rule accepted."""
        return self.result.allowed

    @property
    def informational(self) -> tuple[Decision, ...]:
        """Returns the differences reported only (warnings and info)."""
        return self.result.informational

    def summary(self) -> str:
        """Returns the one line logged on pass."""
        state = "PASS" if self.passed else (f"OVERRIDDEN by {self.override}" if self.overridden else "REFUSED")
        scope = ", environment only (model files not verified)" if self.artifact_path is None else ""
        # the logger is named "envprint" already: the line does not repeat it
        line = (
            f"guard {state}: {self.fingerprint_path} ({self.trust}){scope}, {self.result.summary()}, "
            f"{self.seconds * 1000:.0f} ms"
        )
        consequence = self.result.consequence()
        lines = [line, f"  {consequence}"] if consequence else [line]
        # warnings a passing guard accepted (a probe it could not re-run, a seed, ...) are named, not only counted
        cleared = self.result.cleared  # said by the consequence line already
        warned = [d.finding.title for d in self.result.informational if d.outcome == "warning" and d not in cleared]
        lines += [f"  warning: {title}" for title in warned[:_WARNINGS_SHOWN]]
        if len(warned) > _WARNINGS_SHOWN:
            lines.append(f"  +{len(warned) - _WARNINGS_SHOWN} more warning(s) in GuardResult.informational")
        return "\n".join(lines)


def guard(
    artifact_or_fp: str | os.PathLike[str],
    *,
    policy: str | os.PathLike[str] | Policy | Mapping[str, Any] | None = None,
    trusted_keys: TrustedKeysLike | None = None,
    on_mismatch: Literal["raise", "warn"] = "raise",
    probes: bool = True,
    verify_artifact: bool = True,
    env_only: bool = False,
    fingerprint: str | os.PathLike[str] | None = None,
    digest_cache: str | os.PathLike[str] | None = None,
    nvml: Any = None,
    model: Any = None,
    predict: Callable[[Any], Any] | None = None,
) -> GuardResult:
    """Returns the result of checking this process's environment against the model's fingerprint.

    `policy` is the serving side's own policy (a preset, a TOML file, a `Policy`); it tightens the
    policy signed into the fingerprint. None applies the signed policy alone, or the `default`
    preset when the fingerprint carries none.

    Raises `EnvironmentMismatch` (carrying the diff report) when the policy refuses, unless
    ``on_mismatch="warn"`` or ENVPRINT_GUARD=warn; `SignatureError` when no trusted key verifies the
    fingerprint (or it is unsigned and the policy does not allow unsigned); `ArtifactMismatchError`
    when the model files differ from the signed manifest, or when the fingerprint is not bound to a
    model and `env_only` is false; `UsageError` / `FingerprintFormatError` when the fingerprint is
    missing or unreadable. ``verify_artifact=False`` skips re-hashing a bound model's files;
    ``env_only=True`` accepts a fingerprint bound to no model (checking the environment alone).
    `artifact_or_fp` may be a reference (``hf://ORG/NAME[@REV]``, resolved offline); `fingerprint`
    names the .fp file when it is not at the model's default place. `digest_cache` (default
    ``$ENVPRINT_DIGEST_CACHE``) skips re-hashing model files verified before (docs/signing.md).
    `model` (or `predict`, a function of the inputs) re-runs the model's golden predictions the
    fingerprint recorded (`envprint.golden_predictions`): when they match, differences that act only
    through the model are warnings under the default policy; when they differ, the guard refuses
    and names them first. `nvml` replaces pynvml (tests).
    """
    if on_mismatch not in ("raise", "warn"):
        raise UsageError(f"on_mismatch must be 'raise' or 'warn', not {on_mismatch!r}")
    start = time.perf_counter()
    local = resolve_policy(policy) if policy is not None else None
    allow_unsigned = local is not None and local.allow_unsigned
    located = locate(artifact_or_fp, fingerprint=fingerprint)  # a model, its .fp, or a reference
    fp_path = located.fingerprint
    envelope = read_envelope(fp_path)
    trust, keyids = authenticate(
        envelope, trusted_keys, allow_unsigned=allow_unsigned, keys_required=not allow_unsigned, source=str(fp_path)
    )
    train = decode_fingerprint(envelope, source=str(fp_path))
    artifact_path = None
    if verify_artifact or train.artifact is None:  # skipping the re-hash never waives the binding itself
        checked = check_binding(
            train.artifact,
            fp_path,
            located.artifact,
            unbound="allow" if env_only else "refuse",
            digest_cache=digest_cache,
        )
        artifact_path = checked.path if checked is not None else None

    live = compare_live(
        train,
        reference=f"{fp_path} ({trust.label})",
        reference_trust=trust,
        local=local,
        probes=probes,
        nvml=nvml,
        model=model,
        predict=predict,
    )
    passed = live.result.passed
    seconds = time.perf_counter() - start
    outcome = GuardResult(
        passed,
        False,
        fp_path,
        artifact_path,
        trust,
        keyids,
        live.policy,
        live.report,
        live.result,
        seconds,
        env_only=env_only and train.artifact is None,
    )
    if not passed:
        message = _refusal_message(outcome)
        if os.environ.get(OVERRIDE_ENV, "").strip().lower() == "warn":
            override = f"{OVERRIDE_ENV}=warn"
            logger.warning("%s\n%s is set: STARTING ANYWAY (emergency override)", message, override)
            # the application may silence logging: an override must leave a trace all the same
            sys.stderr.write(
                f"envprint: {override}: STARTING ANYWAY although {fp_path} refuses this environment "
                f"({outcome.result.summary()})\n"
            )
        elif on_mismatch == "warn":
            override = "on_mismatch='warn'"
            logger.warning("%s\n%s: starting anyway", message, override)
        else:
            raise EnvironmentMismatch(message, report=live.report, result=outcome)
        outcome = dataclasses.replace(outcome, overridden=True, override=override)
    logger.info(outcome.summary())
    return outcome


#: warnings named under a passing guard's line; the rest are counted
_WARNINGS_SHOWN = 5


@record
class LiveComparison(Record):
    """This process's environment compared with a reference fingerprint, and the policy's decisions."""

    live: Fingerprint
    report: DiffReport
    result: PolicyResult
    policy: str  # the policy (or policies) applied, e.g. "default (signed) + strict"


def compare_live(
    reference_fp: Fingerprint,
    *,
    reference: str,
    reference_trust: Trust,
    local: Policy | None = None,
    probes: bool = True,
    nvml: Any = None,
    live_label: str = "this process (live)",
    model: Any = None,
    predict: Callable[[Any], Any] | None = None,
) -> LiveComparison:
    """Returns this process's environment captured and compared with `reference_fp` under the policies.

    The one live-comparison pipeline, shared by `guard()`, `envprint check` and the pytest plugin:
    capture this process (re-running the probe groups and the transform probes the reference
    recorded), diff, and evaluate the policy signed into the reference, tightened by `local`.
    With `model` (or `predict`), the reference's golden predictions are re-run on the inputs it
    recorded (`envprint.predictions`): when they match, the default policy weighs the differences
    that act only through the model as warnings.
    """
    groups = _probe_groups(reference_fp.probes) if probes else None
    with _CAPTURE_LOCK:
        # usage is the reference's question (what training used), not this process's: not recorded here
        live = capture(probes=bool(groups), probe_groups=groups, nvml=nvml, label="serving (guard)", usage=False)
        if probes:
            # re-run the user transform probes the reference recorded that this process registers; a process
            # that registers none has not imported the transform registry (~14 ms a first guard need not pay)
            transforms = sys.modules.get("envprint.probes.transforms")
            fresh = transforms.rerun(reference_fp) if transforms is not None else {}
            if model is not None or predict is not None:
                # deferred: golden predictions load the transform registry, which only a guard given a model needs
                from envprint import predictions

                fresh.update(predictions.rerun(reference_fp, model, predict=predict))
            if fresh and not isinstance(live.probes, Unavailable):
                live = live.replace(probes={**live.probes, **fresh})
    report = diff(
        reference_fp.replace(artifact=None),
        live.replace(artifact=None),
        a_label=reference,
        b_label=live_label,
        a_trust=reference_trust,
        b_trust=Trust.live,
    )
    result, description = judge(reference_fp.policy, local, report, live, log=logger)
    return LiveComparison(live, report, result, description)


def _probe_groups(probes: Mapping[str, Any] | Unavailable) -> list[str] | None:
    """Returns the probe groups training recorded (the ones to re-run), None when it recorded none."""
    if isinstance(probes, Unavailable) or not probes:
        return None
    groups = sorted({p.group for p in probes.values() if p.group in GROUPS})
    return groups or None


def _refusal_message(outcome: GuardResult) -> str:
    head = (
        f"refusing to serve: this environment differs from the one {outcome.fingerprint_path} was validated in "
        f"({outcome.result.summary()})"
    )
    return f"{head}\n{violations_text(outcome.result)}"
