"""Collectors: one module per section of facts read from the environment (no computation).

Each collector has the same small shape, `collect() -> Section | Unavailable`; `envprint.capture`
runs them and turns any unexpected exception into `Unavailable(reason)` for that section.
"""
