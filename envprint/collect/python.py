"""Collects the interpreter: version, implementation, build, ABI, hash algorithm, Unicode database."""

from __future__ import annotations

import platform
import sys
import sysconfig
import unicodedata

from envprint.model import PythonInfo, Unavailable
from envprint.privacy import redact_path


def collect() -> PythonInfo:
    """Returns the running interpreter's facts."""
    build_no, build_date = platform.python_build()
    soabi = sysconfig.get_config_var("SOABI")
    return PythonInfo(
        version=platform.python_version(),
        implementation=sys.implementation.name,
        build=f"{build_no}, {build_date}",
        compiler=platform.python_compiler(),
        abi=soabi if isinstance(soabi, str) else Unavailable("sysconfig has no SOABI on this platform"),
        hash_algorithm=sys.hash_info.algorithm,
        unicode_version=unicodedata.unidata_version,
        float_repr_style=sys.float_repr_style,
        byteorder=sys.byteorder,
        free_threading=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        executable=redact_path(sys.executable),
        prefix=redact_path(sys.prefix),
        in_virtualenv=sys.prefix != sys.base_prefix,
        purelib=redact_path(sysconfig.get_path("purelib")),
    )
