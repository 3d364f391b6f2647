"""`envprint check`: the serving guard as a command, for container entrypoints and readiness probes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from envprint.capturing import import_modules
from envprint.cli._app import FormatOption, TextOrJson, app, key_paths
from envprint.errors import EnvironmentMismatch
from envprint.render import policy as render_policy
from envprint.serving import guard


@app.command()
def check(
    artifact_or_fp: Annotated[
        str,
        typer.Argument(help="Model directory or file (or its .fp), Hub cache snapshot or hf://ORG/NAME[@REV]."),
    ],
    fingerprint: Annotated[
        Path | None,
        typer.Option(
            envvar="ENVPRINT_FINGERPRINT",
            help="The model's fingerprint, when it is not in its default place (e.g. captured with -o).",
        ),
    ] = None,
    digest_cache: Annotated[
        Path | None,
        typer.Option(
            envvar="ENVPRINT_DIGEST_CACHE",
            help="Directory (yours alone) caching digests verified before: unchanged model files are not re-read.",
        ),
    ] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option("--key", envvar="ENVPRINT_TRUSTED_KEYS", help="Trusted public key or keyring (repeatable)."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_POLICY",
            help="Serving policy (strict, default, lenient or a TOML file); it tightens the policy signed into "
            "the fingerprint [default: the signed policy, else default].",
        ),
    ] = None,
    no_probes: Annotated[
        bool, typer.Option("--no-probes", envvar="ENVPRINT_NO_PROBES", help="Do not re-run the probes.")
    ] = False,
    no_verify_artifact: Annotated[
        bool,
        typer.Option(
            "--no-verify-artifact", envvar="ENVPRINT_NO_VERIFY_ARTIFACT", help="Skip re-hashing the model files."
        ),
    ] = False,
    env_only: Annotated[
        bool,
        typer.Option(
            "--env-only",
            envvar="ENVPRINT_ENV_ONLY",
            help="Accept a fingerprint bound to no model and check the environment alone (without it, an "
            "unbound fingerprint exits 3); a bound one still has its model verified.",
        ),
    ] = False,
    import_: Annotated[
        list[str] | None,
        typer.Option("--import", envvar="ENVPRINT_IMPORT", help="Import MODULE first so its state is seen."),
    ] = None,
    format: FormatOption = TextOrJson.text,
) -> None:
    """Serving-startup check: exit 0 pass, 1 refused, 2 usage/unreadable, 3 untrusted (for entrypoints and probes)."""
    import_modules(import_ or ())
    try:
        result = guard(
            artifact_or_fp,
            policy=policy,
            trusted_keys=key_paths(key),
            probes=not no_probes,
            verify_artifact=not no_verify_artifact,
            env_only=env_only,
            fingerprint=fingerprint,
            digest_cache=digest_cache,
        )
        status = 0
    except EnvironmentMismatch as e:
        if e.result is None:
            raise
        result, status = e.result, 1
    if format is TextOrJson.json:
        sys.stdout.write(render_policy.guard_json(result) + "\n")
    else:
        sys.stdout.write(render_policy.guard_text(result) + "\n")
    if status:
        raise typer.Exit(status)


# --------------------------------------------------------------------------------------------- diff
