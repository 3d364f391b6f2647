"""Keys, signatures and exports: `envprint keygen`, `sign`, `verify`, `export`."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from envprint import signing
from envprint._files import atomic_write
from envprint.artifact import verify_file
from envprint.cli._app import app, key_paths, stderr
from envprint.codec import load
from envprint.errors import UsageError
from envprint.export import export_file, to_requirements
from envprint.render.progress import byte_progress


class ExportFormat(str, enum.Enum):
    """Output formats of `envprint export`."""

    in_toto = "in-toto"
    requirements = "requirements"


class KeyAlgorithm(str, enum.Enum):
    """Key types `envprint keygen` makes."""

    ed25519 = "ed25519"
    ecdsa_p256 = "ecdsa-p256"


_ALGORITHMS = {KeyAlgorithm.ed25519: signing.ED25519, KeyAlgorithm.ecdsa_p256: signing.ECDSA_P256}


@app.command()
def keygen(
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            envvar="ENVPRINT_KEYGEN_PREFIX",
            help="Write PREFIX.key (private, mode 0600) and PREFIX.pub (public).",
        ),
    ] = Path("envprint"),
    algorithm: Annotated[
        KeyAlgorithm,
        typer.Option(
            "--algorithm",
            envvar="ENVPRINT_KEY_ALGORITHM",
            help="ed25519, or ecdsa-p256 for one organisation key shared with model-signing and other tools.",
        ),
    ] = KeyAlgorithm.ed25519,
) -> None:
    """Make a key pair (Ed25519 or ECDSA P-256); encrypted with ENVPRINT_KEY_PASSPHRASE when set. Prints the key id."""
    passphrase = signing.passphrase_from_env()
    private, public = signing.generate_keypair(output, passphrase=passphrase, algorithm=_ALGORITHMS[algorithm])
    kid = signing.keyid(signing.load_public_key(public))
    state = "encrypted with ENVPRINT_KEY_PASSPHRASE" if passphrase else "not encrypted"
    stderr().print(
        f"wrote {private} (private key, mode 0600, {state}: keep it secret, e.g. a CI secret)\n"
        f"wrote {public} (public key: give it to the verifiers)"
    )
    sys.stdout.write(kid + "\n")


@app.command()
def sign(
    file: Annotated[Path, typer.Argument(help="A fingerprint file (.fp) to add a signature to.")],
    key: Annotated[Path, typer.Option("--key", envvar="ENVPRINT_KEY", help="Ed25519 private key (PKCS#8 PEM).")],
) -> None:
    """Add a signature to a fingerprint file (several keys may sign it, for key rotation)."""
    envelope = signing.sign_file(file, key)
    stderr().print(
        f"signed {file} with key {envelope.signatures[-1].keyid[:16]} "
        f"({len(envelope.signatures)} signature(s) in the file)"
    )


@app.command()
def verify(
    file: Annotated[
        str,
        typer.Argument(help="A fingerprint file (.fp), or a model or hf://ORG/NAME[@REV] with its fingerprint."),
    ],
    key: Annotated[
        list[Path],
        typer.Option(
            "--key",
            envvar="ENVPRINT_TRUSTED_KEYS",
            help="Trusted public key or keyring file (repeatable).",
        ),
    ],
    artifact: Annotated[
        str | None,
        typer.Option(
            envvar="ENVPRINT_ARTIFACT",
            help="Model file or directory, Hub cache snapshot or hf://ORG/NAME[@REV] to check "
            "[default: the one the .fp sits in or beside, or the snapshot it is named after].",
        ),
    ] = None,
    digest_cache: Annotated[
        Path | None,
        typer.Option(
            envvar="ENVPRINT_DIGEST_CACHE",
            help="Directory (yours alone) caching digests verified before, by file identity: unchanged files "
            "are not re-read (see docs/signing.md for what it protects against).",
        ),
    ] = None,
    signature_only: Annotated[
        bool,
        typer.Option(
            "--signature-only",
            envvar="ENVPRINT_SIGNATURE_ONLY",
            help="Check only the signature, not the model files (say so explicitly: it proves less).",
        ),
    ] = False,
) -> None:
    """Verify a fingerprint's signature with trusted keys, then its model files; exit 3 when untrusted."""
    with byte_progress(description="verifying artifact") as progress:
        result = verify_file(
            file,
            key_paths(key) or [],
            artifact=artifact,
            signature_only=signature_only,
            progress=progress,
            digest_cache=digest_cache,
        )
    sys.stdout.write(result.summary() + "\n")


@app.command(name="export")
def export_(
    file: Annotated[Path, typer.Argument(help="A fingerprint file (.fp).")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f", envvar="ENVPRINT_EXPORT_FORMAT")],
    key: Annotated[
        Path | None,
        typer.Option("--key", envvar="ENVPRINT_KEY", help="Sign the export with this Ed25519 private key."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", envvar="ENVPRINT_EXPORT_OUTPUT", help="Write here [default: stdout]."),
    ] = None,
) -> None:
    """Export a fingerprint: in-toto (DSSE envelope with an in-toto Statement v1) or requirements (pinned)."""
    if format is ExportFormat.requirements:
        if key is not None:
            raise UsageError("--key signs in-toto exports only; a requirements file is not signed")
        data = to_requirements(load(file)).encode("utf-8")
    else:
        data = export_file(file, key=key)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        atomic_write(output, data)
        signed = "" if format is ExportFormat.requirements else f", {'signed' if key else 'UNSIGNED'}"
        stderr().print(f"wrote {output} ({format.value}{signed})")
