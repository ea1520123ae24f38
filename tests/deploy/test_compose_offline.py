"""deploy/compose validated without an engine: the compose files against the compose specification
(check-jsonschema's vendored schema) and docker-compose's own model (`docker-compose config -q`),
every polystream service's command is a module of this workspace, and every environment variable
compose (or an image's Dockerfile) sets for a service is a field its settings class reads. Each
validator also refuses a broken input, so a green run means it looked.

Tools: check-jsonschema in a cached virtualenv (.cache/compose-tools, pip from PyPI), Debian's
docker-compose 1.29 (installed with apt when missing and we are root)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from polystream_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
LOCAL_IMAGES = COMPOSE_DIR / "compose.local-images.yaml"
ENV_FILE = COMPOSE_DIR / ".env.example"
TOOLS = ROOT / ".cache" / "compose-tools"
CHECK_JSONSCHEMA_VERSION = "0.39.0"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def polystream_services(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository (they have a ``build``)."""
    return {name: svc for name, svc in data["services"].items() if "build" in svc}


# -- tools ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def check_jsonschema() -> Path:
    exe = TOOLS / "bin" / "check-jsonschema"
    stamp = TOOLS / f".stamp-{CHECK_JSONSCHEMA_VERSION}"
    if not stamp.exists():
        shutil.rmtree(TOOLS, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True, timeout=120)
        subprocess.run(
            [
                str(TOOLS / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                f"check-jsonschema=={CHECK_JSONSCHEMA_VERSION}",
            ],
            check=True,
            timeout=300,
        )
        stamp.touch()
    return exe


@pytest.fixture(scope="module")
def docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker-compose"],
            check=True,
            timeout=600,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is missing and could not be installed"
            " (apt-get install docker-compose, as root)"
        )
    return exe


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, cwd=COMPOSE_DIR
    )


# -- the compose specification -------------------------------------------------------------------
@pytest.mark.parametrize("path", [COMPOSE, LOCAL_IMAGES], ids=lambda p: p.name)
def test_the_compose_files_match_the_compose_spec(check_jsonschema: Path, path: Path) -> None:
    result = run(check_jsonschema, "--builtin-schema", "vendor.compose-spec", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_spec_check_refuses_a_misspelt_key(check_jsonschema: Path, tmp_path: Path) -> None:
    data = load(COMPOSE)
    data["services"]["kafka"]["healthcheck"]["intervall"] = "5s"
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = run(check_jsonschema, "--builtin-schema", "vendor.compose-spec", broken)
    assert result.returncode != 0
    assert "intervall" in result.stdout + result.stderr


# -- docker-compose's own model ------------------------------------------------------------------
def compose_config(exe: str, *files: Path) -> subprocess.CompletedProcess[str]:
    args: list[str | Path] = [exe, "--env-file", ENV_FILE]
    for f in files:
        args += ["-f", f]
    return run(*args, "config", "-q")


@pytest.mark.parametrize(
    "files", [(COMPOSE,), (COMPOSE, LOCAL_IMAGES)], ids=["compose", "compose+local-images"]
)
def test_docker_compose_accepts_the_files(docker_compose: str, files: tuple[Path, ...]) -> None:
    result = compose_config(docker_compose, *files)
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_refuses_a_missing_dependency(
    docker_compose: str, tmp_path: Path
) -> None:
    data = load(COMPOSE)
    data["services"]["graph-writer"]["depends_on"]["neo4j-typo"] = {"condition": "service_healthy"}
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = compose_config(docker_compose, broken)
    assert result.returncode != 0
    assert "neo4j-typo" in result.stderr


def test_docker_compose_config_refuses_a_missing_secret(
    docker_compose: str, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(
            line
            for line in ENV_FILE.read_text().splitlines()
            if not line.startswith("POSTGRES_PASSWORD=")
        )
    )
    result = run(docker_compose, "--env-file", env, "-f", COMPOSE, "config", "-q")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


# -- commands ------------------------------------------------------------------------------------
def command_module(service: str, svc: dict[str, Any]) -> str:
    command = svc.get("command")
    assert isinstance(command, list) and command[:2] == ["python", "-m"], (
        f"{service}: command should be ['python', '-m', <package>, ...], not {command!r}"
    )
    return str(command[2])


def module_problem(service: str, module: str) -> str | None:
    """Why ``python -m module`` would not run service's own code; None when it would."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return f"{service}: no module {module!r} in the workspace"
    home = ROOT / "services" / service / "src"
    if not Path(spec.origin).resolve().is_relative_to(home):
        return f"{service}: {module!r} is {spec.origin}, not a package of {home}"
    if importlib.util.find_spec(f"{module}.__main__") is None:
        return f"{service}: {module!r} has no __main__ (python -m would fail)"
    return None


def test_every_service_command_is_a_module_of_the_project() -> None:
    services = polystream_services(load(COMPOSE))
    assert set(services) == {p.name for p in (ROOT / "services").iterdir() if p.is_dir()}
    problems = [module_problem(n, command_module(n, s)) for n, s in services.items()]
    assert [p for p in problems if p] == []
    for name, svc in services.items():  # and the image builds that service
        assert svc["build"]["dockerfile"] == f"services/{name}/Dockerfile"
        dockerfile = (ROOT / "services" / name / "Dockerfile").read_text()
        module = command_module(name, svc)
        assert f'CMD ["python", "-m", "{module}"]' in dockerfile
        assert f"--package {name}" in dockerfile


def test_the_command_check_refuses_a_module_that_is_not_the_services() -> None:
    assert module_problem("producer", "no_such_module") is not None
    assert module_problem("producer", "json") is not None  # exists, but not ours
    assert module_problem("producer", "sensor_consumer") is not None  # ours, another service's


# -- environment variables -----------------------------------------------------------------------
def settings_class(module: str) -> type[ServiceSettings]:
    settings = importlib.import_module(f"{module}.settings")
    found = [
        obj
        for obj in vars(settings).values()
        if isinstance(obj, type)
        and issubclass(obj, ServiceSettings)
        and obj.__module__ == settings.__name__
    ]
    assert len(found) == 1, f"{module}.settings should define one settings class: {found}"
    return found[0]


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation can hold (``X | None`` -> [X])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in models_in(arg)]
    return []


def reads(model: type[BaseModel], path: list[str]) -> bool:
    """Does ``model`` have the (nested) field ``path``? Names are case-insensitive, as
    pydantic-settings matches environment variables."""
    fields = {name.lower(): field for name, field in model.model_fields.items()}
    field = fields.get(path[0])
    if field is None:
        return False
    if len(path) == 1:
        return True
    return any(reads(sub, path[1:]) for sub in models_in(field.annotation))


def unread_variables(cls: type[ServiceSettings], names: list[str]) -> list[str]:
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    delimiter = cls.model_config.get("env_nested_delimiter") or "__"
    assert prefix, f"{cls.__name__} has no env_prefix"
    return [
        name
        for name in names
        if not name.upper().startswith(prefix)
        or not reads(cls, name[len(prefix) :].lower().split(delimiter))
    ]


def dockerfile_env(service: str) -> list[str]:
    text = (ROOT / "services" / service / "Dockerfile").read_text().replace("\\\n", " ")
    names: list[str] = []
    for line in text.splitlines():
        if line.startswith("ENV "):
            names += re.findall(r"([A-Z][A-Z0-9_]*)=", line)
    return names


@pytest.mark.parametrize("path", [COMPOSE, LOCAL_IMAGES], ids=lambda p: p.name)
def test_every_variable_compose_sets_is_read_by_the_services_settings(path: Path) -> None:
    base = polystream_services(load(COMPOSE))
    unread = {}
    for name, svc in load(path)["services"].items():
        if name not in base:
            continue
        cls = settings_class(command_module(name, base[name]))
        environment = svc.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: environment as a mapping, please"
        if missing := unread_variables(cls, list(environment)):
            unread[name] = missing
    assert unread == {}


def test_every_variable_an_image_sets_is_read_by_its_settings() -> None:
    general = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "HF_HUB_OFFLINE"}
    unread = {}
    for name, svc in polystream_services(load(COMPOSE)).items():
        cls = settings_class(command_module(name, svc))
        own = [v for v in dockerfile_env(name) if v not in general and not v.startswith("UV_")]
        if missing := unread_variables(cls, own):
            unread[name] = missing
    assert unread == {}


def test_the_variable_check_refuses_what_no_setting_reads() -> None:
    cls = settings_class("sensor_consumer")
    assert unread_variables(cls, ["SENSOR_CONSUMER_POSTGRES__HOST"]) == []
    wrong = [
        "SENSOR_CONSUMER_POSTGRES__HOSTNAME",  # no such nested field
        "SENSOR_CONSUMER_POSTGRES_HOST",  # single underscore: not nested
        "EVENT_CONSUMER_MONGO__URL",  # another service's prefix
        "SENSOR_CONSUMER_MONGO__URL",  # a store this service has no settings for
    ]
    assert unread_variables(cls, wrong) == wrong
    # Optional nested settings (the embedder's qdrant: QdrantSettings | None) are walked too.
    embedder = settings_class("embedder")
    assert unread_variables(embedder, ["EMBEDDER_QDRANT__API_KEY"]) == []
    assert unread_variables(embedder, ["EMBEDDER_QDRANT__APIKEY"]) == ["EMBEDDER_QDRANT__APIKEY"]
