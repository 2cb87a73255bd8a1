"""What the JVM components (Kafka, OpenSearch) share: a Maven build from Central, a java command line.

Each has a small Maven project in ``sandbox/<name>/pom.xml`` that fetches (and, for OpenSearch,
builds) its jars into ``~/.cache/nova-gate/<name>/<version>/<dir>``; the build lands in a
``.partial`` directory first and is renamed when complete, so an interrupted build is never taken
for a finished one. Nothing here is downloaded into the repository.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from nova_gate.sandbox.base import (
    Component,
    apt_install,
    build_log,
    cache_dir,
    run_logged,
    sandbox_data_dir,
)

#: options every sandbox JVM runs with (small heaps, fail fast on OOM, no GUI)
JVM_OPTS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


def java_command(
    main: str,
    classpath: str,
    *args: str,
    heap_min: str,
    heap_max: str,
    options: Sequence[str] = (),
) -> list[str]:
    """``java -Xms.. -Xmx.. <common options> <options> -cp <classpath> <main> <args>``."""
    return ["java", f"-Xms{heap_min}", f"-Xmx{heap_max}", *JVM_OPTS, *options, "-cp", classpath, main, *args]


class JvmComponent(Component):
    """A component whose binaries are Maven artifacts, built once into the cache.

    Subclasses set ``maven_project`` (``sandbox/<it>/pom.xml``), ``java_package`` (the Debian JDK or
    JRE), and implement ``_installed`` and ``_maven_args`` (goals and ``-D`` properties, given the
    ``.partial`` output directory); ``build_dir`` is where the finished build lives.
    """

    maven_project: str = ""
    java_package: str = "openjdk-17-jre-headless"

    @property
    def build_dir(self) -> Path:
        raise NotImplementedError

    def _installed(self) -> bool:
        raise NotImplementedError

    def _maven_args(self, out: Path) -> list[str]:
        raise NotImplementedError

    def _after_build(self, out: Path) -> None:
        """Called with the complete ``.partial`` directory before it is renamed into place."""

    def install(self) -> None:
        if self._installed():
            return
        if not shutil.which("java"):
            apt_install(self.java_package)
        if not shutil.which("mvn"):
            apt_install("maven")
        tmp = self.build_dir.with_name(self.build_dir.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        run_logged(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(sandbox_data_dir() / self.maven_project / "pom.xml"),
                f"-Dmaven.repo.local={cache_dir() / 'm2'}",
                *self._maven_args(tmp),
            ],
            f"{self.name}: jars from Maven Central",
            build_log(f"{self.name}-jars"),
            timeout=1800,
        )
        self._after_build(tmp)
        shutil.rmtree(self.build_dir, ignore_errors=True)
        tmp.rename(self.build_dir)
