"""A real Spark local-cluster for the tests that need one, bound to loopback only."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

MASTER = "local-cluster[2,1,1024]"  # two executor JVMs of one core each
JAVA = shutil.which("java", path=os.path.join(os.environ.get("JAVA_HOME", ""), "bin")) or shutil.which("java")
#: the marks of a module of Spark tests: slow, and skipped without Java
SPARK_TESTS = [pytest.mark.slow, pytest.mark.skipif(JAVA is None, reason="Spark needs Java 17+ (no java found)")]


@contextlib.contextmanager
def local_cluster(app_name: str, *, unset: Iterable[str] = ()) -> Iterator[Any]:
    """Yields a SparkSession on `MASTER`, its driver without the variables `unset`; stops it on exit."""
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        mp.setenv("PYSPARK_PYTHON", sys.executable)
        for name in unset:
            mp.delenv(name, raising=False)
        session = (
            SparkSession.builder.master(MASTER)
            .appName(app_name)
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()
