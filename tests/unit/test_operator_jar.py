"""The project's operator JAR: compiled from jobs/java/ against the installed PyFlink, rebuilt on change."""
from __future__ import annotations

import shutil
import zipfile

import pytest

from riskstream.core import paths
from riskstream.core.errors import MissingTool
from riskstream.io import operator_jar

CLASS_FILE = "dev/riskstream/flink/CheckpointedTimersKeyedProcessOperator.class"


def test_the_jar_holds_the_compiled_operator_and_is_named_by_its_sources(tmp_path, monkeypatch):
    sources = tmp_path / "java"
    shutil.copytree(paths.JAVA_SOURCES_DIR, sources)
    monkeypatch.setattr(paths, "JAVA_SOURCES_DIR", sources)
    monkeypatch.setattr(paths, "JAR_CACHE_DIR", tmp_path / "jars")
    first = operator_jar.ensure()
    with zipfile.ZipFile(first) as jar:
        assert CLASS_FILE in jar.namelist()
        assert jar.read(CLASS_FILE)[:4] == b"\xca\xfe\xba\xbe"
    assert operator_jar.ensure() == first  # built once
    [source] = sources.rglob("*.java")
    source.write_text(source.read_text() + "\n// changed\n")
    second = operator_jar.ensure()
    assert second != first and second.exists() and not first.exists()


def test_a_source_that_does_not_compile_is_reported_with_javacs_message(tmp_path, monkeypatch):
    sources = tmp_path / "java"
    sources.mkdir()
    (sources / "Broken.java").write_text("class Broken { int x = ; }\n")
    monkeypatch.setattr(paths, "JAVA_SOURCES_DIR", sources)
    monkeypatch.setattr(paths, "JAR_CACHE_DIR", tmp_path / "jars")
    with pytest.raises(Exception, match="javac could not build riskstream-operators(.|\n)*Broken.java"):
        operator_jar.ensure()
    assert not list((tmp_path / "jars").rglob("*.jar"))


def test_without_a_jdk_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "JAR_CACHE_DIR", tmp_path / "jars")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(operator_jar.shutil, "which", lambda name: None)
    with pytest.raises(MissingTool, match="javac"):
        operator_jar.ensure()
