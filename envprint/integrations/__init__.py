"""Integrations with the tools a team already runs (Spark fleet capture, the pytest plugin, ...).

Each module imports its tool lazily, so importing this package (or `envprint`) never imports one;
`envprint.integrations.spark` needs the extra ``pip install 'envprint[spark]'``.
"""
