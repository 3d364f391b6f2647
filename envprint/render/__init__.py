"""Renderers: turn reports and fingerprints into text (rich), JSON and Markdown."""
