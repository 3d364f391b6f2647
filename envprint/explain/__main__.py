"""`python -m envprint.explain`: writes docs/explanations.md (the catalogue of finding kinds) to stdout."""

import sys

from envprint.explain import catalogue_markdown

sys.stdout.write(catalogue_markdown())
