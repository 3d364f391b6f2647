"""Collects time zone, tz database versions and locale: they move hour-of-day features, parsing, collation.

The locale is only queried (`setlocale(category, None)`), never set.
"""

from __future__ import annotations

import locale
import os
import sys
import time
import zoneinfo
from collections.abc import Mapping

from envprint.model import LocaleTimeInfo, Package, Unavailable
from envprint.privacy import is_secret_name, redact_path, safe_value, utf8_text

_LOCALE_VARIABLES = frozenset(
    {"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_COLLATE", "LC_TIME", "LC_NUMERIC", "LC_MONETARY",
     "LC_MESSAGES", "LC_PAPER", "LC_NAME", "LC_ADDRESS", "LC_TELEPHONE", "LC_MEASUREMENT", "LC_IDENTIFICATION"}
)  # fmt: skip
_CATEGORIES = ("LC_CTYPE", "LC_COLLATE", "LC_TIME", "LC_NUMERIC", "LC_MONETARY", "LC_MESSAGES")
_ZONEINFO_DIRS = ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo")


def collect(packages: Mapping[str, Package] | None = None, environ: Mapping[str, str] | None = None) -> LocaleTimeInfo:
    """Returns this process's time zone and locale facts.

    `packages` (the packages section, when already collected) gives the `tzdata` distribution's
    version without reading its metadata again.
    """
    env = os.environ if environ is None else environ
    tz_env = env.get("TZ")
    pkg = (packages or {}).get("tzdata")
    zone = local_zone(tz_env)
    return LocaleTimeInfo(
        tz_env=None if tz_env is None else safe_value(tz_env),  # screened like every recorded value
        local_zone=safe_value(zone) if isinstance(zone, str) else Unavailable(redact_path(zone.reason)),
        tzname=tuple(utf8_text(n) for n in time.tzname),
        std_offset_seconds=-time.timezone,
        tzdata_system=tzdata_system_version(),
        tzdata_package=pkg.version if pkg is not None and isinstance(pkg.version, str) else None,
        locale=_locale_categories(),
        locale_env={
            k: safe_value(v)
            for k, v in sorted(env.items())
            # LC_* is also a channel ssh forwards (SendEnv LC_*): keep only real locale categories
            if k in _LOCALE_VARIABLES and not is_secret_name(k)
        },
        preferred_encoding=locale.getpreferredencoding(False),
        filesystem_encoding=sys.getfilesystemencoding(),
        utf8_mode=bool(sys.flags.utf8_mode),
        zoneinfo_tzpath=tuple(redact_path(p) for p in zoneinfo.TZPATH),  # PYTHONTZPATH is the user's
        utc_offset_seconds=time.localtime().tm_gmtoff,
    )


def local_zone(tz_env: str | None) -> str | Unavailable:
    """Returns the IANA name of the zone local time uses (TZ, else /etc/localtime, else /etc/timezone)."""
    if tz_env:
        name = tz_env.lstrip(":")
        if os.path.isabs(name):
            return _zone_from_path(name) or Unavailable(f"TZ points to {name}, outside a zoneinfo directory")
        return name
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        target = ""
    zone = _zone_from_path(target) if os.path.exists("/etc/localtime") else None
    if zone:
        return zone
    try:
        with open("/etc/timezone", encoding="utf-8") as f:
            name = f.read().strip()
            if name:
                return name
    except OSError:
        pass
    if not os.path.exists("/etc/localtime"):
        return "UTC"  # glibc's documented default without TZ or /etc/localtime
    return Unavailable("/etc/localtime is not a link into a zoneinfo directory")


def _zone_from_path(path: str) -> str | None:
    marker = "/zoneinfo/"
    i = path.rfind(marker)
    if i < 0:
        return None
    name = path[i + len(marker) :]
    for prefix in ("posix/", "right/"):
        name = name.removeprefix(prefix)
    return name or None


def tzdata_system_version() -> str | Unavailable:
    """Returns the version of the system tz database ("2025b") read from tzdata.zi or +VERSION."""
    for directory in _ZONEINFO_DIRS:
        try:
            with open(os.path.join(directory, "tzdata.zi"), encoding="utf-8") as f:
                first = f.readline().strip()
            if first.startswith("# version "):
                return first.removeprefix("# version ").strip()
        except OSError:
            pass
        try:
            with open(os.path.join(directory, "+VERSION"), encoding="utf-8") as f:
                return f.read().strip()
        except OSError:
            pass
    return Unavailable("no tzdata.zi or +VERSION in the system zoneinfo directories")


def _locale_categories() -> dict[str, str]:
    out = {}
    for name in _CATEGORIES:
        category = getattr(locale, name, None)
        if category is None:
            continue
        try:
            out[name] = locale.setlocale(category, None)  # None queries; it never changes the locale
        except locale.Error as e:
            out[name] = f"unavailable: {e}"
    return out
