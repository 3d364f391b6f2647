"""Renderers: turn reports and fingerprints into text (rich), JSON and Markdown.

A diff report renders through `render(report, format)` (in `dispatch`); `Format` (in `formats`) is the
one registry of formats (``envprint diff --format``) and `render` ends in `assert_never`, so a format
without a renderer fails type checking and the exhaustiveness test. `envprint.render.fingerprint` renders
`envprint show`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envprint._lazy import lazy_attributes

if TYPE_CHECKING:
    from envprint.render.dispatch import render
    from envprint.render.formats import Format

__all__ = ["Format", "render"]

# public name -> the module that defines it, imported on first use: `Format` (an option's type) and one
# renderer (`progress`, `policy`, `fingerprint`) load no other renderer (issue 18: a capture or a guard
# that passes pays for no diff rendering)
_LAZY = {"Format": "envprint.render.formats", "render": "envprint.render.dispatch"}

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
