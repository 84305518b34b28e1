"""The project's Java classes: compiled against the installed PyFlink into JARs named by their sources."""
from __future__ import annotations

import shutil
import zipfile

import pytest

from riskstream.core import paths
from riskstream.core.errors import MissingTool, RiskstreamError
from riskstream.io import java_build

CLASS_FILE = "dev/riskstream/flink/CheckpointedTimersKeyedProcessOperator.class"


def test_the_jar_holds_the_compiled_operator_and_is_named_by_its_sources(tmp_path, monkeypatch):
    sources = tmp_path / "java"
    shutil.copytree(paths.JAVA_SOURCES_DIR, sources)
    monkeypatch.setattr(paths, "JAVA_SOURCES_DIR", sources)
    monkeypatch.setattr(paths, "JAR_CACHE_DIR", tmp_path / "jars")
    first = java_build.operators()
    with zipfile.ZipFile(first) as jar:
        assert CLASS_FILE in jar.namelist()
        assert jar.read(CLASS_FILE)[:4] == b"\xca\xfe\xba\xbe"
    assert java_build.operators() == first  # built once
    source = next(sources.rglob("CheckpointedTimersKeyedProcessOperator.java"))
    source.write_text(source.read_text() + "\n// changed\n")
    second = java_build.operators()
    assert second != first and second.exists() and not first.exists()


def test_a_source_that_does_not_compile_is_reported_with_javacs_message(tmp_path, monkeypatch):
    sources = tmp_path / "java"
    sources.mkdir()
    (sources / "Broken.java").write_text("class Broken { int x = ; }\n")
    monkeypatch.setattr(paths, "JAVA_SOURCES_DIR", sources)
    monkeypatch.setattr(paths, "JAR_CACHE_DIR", tmp_path / "jars")
    with pytest.raises(RiskstreamError, match="javac could not build riskstream-operators(.|\n)*Broken.java"):
        java_build.operators()
    assert not list((tmp_path / "jars").rglob("*.jar"))


def test_without_a_jdk_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "JAR_CACHE_DIR", tmp_path / "jars")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(java_build.shutil, "which", lambda name: None)
    with pytest.raises(MissingTool, match="javac"):
        java_build.operators()


def test_resources_beside_the_sources_go_into_the_jar(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "JAR_CACHE_DIR", tmp_path / "jars")
    sources = tmp_path / "java"
    (sources / "dev" / "x").mkdir(parents=True)
    (sources / "dev" / "x" / "Hello.java").write_text("package dev.x; public class Hello {}\n")
    (sources / "META-INF" / "services").mkdir(parents=True)
    (sources / "META-INF" / "services" / "some.Factory").write_text("dev.x.Hello\n")
    built = java_build.build("resource-test", sources, java_build.compile_classpath())
    with zipfile.ZipFile(built) as jar:
        assert jar.read("META-INF/services/some.Factory") == b"dev.x.Hello\n"
        assert "dev/x/Hello.class" in jar.namelist() and "dev/x/Hello.java" not in jar.namelist()
