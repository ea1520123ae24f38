"""deploy/compose validated without an engine: the compose files against the compose specification
(check-jsonschema's vendored schema) and docker-compose's own model (`docker-compose config -q`),
every polystream service's command is a module of this workspace, and every environment variable
compose (or the service's target of services/Dockerfile) sets for a service is a field its
settings class reads. Each validator also refuses a broken input, so a green run means it looked.

Tools: check-jsonschema in a cached virtualenv (.cache/compose-tools, pip from PyPI), Debian's
docker-compose 1.29 (installed with apt when missing and we are root)."""

from __future__ import annotations

import importlib
import importlib.util
import json
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
# Dagster's own entry points load a code location of the service's package (``-m <module>``).
DAGSTER_ENTRY_POINTS = {"dagster-daemon", "dagster-webserver"}


def command_module(service: str, svc: dict[str, Any]) -> str:
    """The module a service's command runs: ``python -m <package> ...``, or a Dagster entry point
    loading ``-m <module>`` (the orchestrator's daemon and webserver)."""
    command = svc.get("command")
    assert isinstance(command, list) and command, f"{service}: command as a list, please"
    if command[:2] == ["python", "-m"]:
        return str(command[2])
    assert command[0] in DAGSTER_ENTRY_POINTS and "-m" in command[:-1], (
        f"{service}: command should be ['python', '-m', <package>, ...] or one of"
        f" {sorted(DAGSTER_ENTRY_POINTS)} with -m <module>, not {command!r}"
    )
    return str(command[command.index("-m") + 1])


def package_of(service: str, svc: dict[str, Any]) -> str:
    return command_module(service, svc).split(".")[0]


DOCKERFILE = ROOT / "services" / "Dockerfile"


def service_folder(service: str, svc: dict[str, Any]) -> str:
    """The services/<folder> whose target of services/Dockerfile builds the service's image; the
    build's SERVICE (the package the virtualenv is synced for) must name the same folder."""
    build = svc["build"]
    assert build["dockerfile"] == "services/Dockerfile", f"{service}: {build['dockerfile']}"
    target = str(build.get("target"))
    assert build.get("args", {}).get("SERVICE") == target, (
        f"{service}: target {target} built with SERVICE={build.get('args', {}).get('SERVICE')}"
    )
    return target


def dockerfile_stages(text: str) -> dict[str, tuple[str, str]]:
    """Each stage of a Dockerfile: its name -> (what it is FROM, its instructions, continuation
    lines joined)."""
    stages: dict[str, tuple[str, str]] = {}
    name = parent = ""
    body: list[str] = []
    for line in [*text.replace("\\\n", " ").splitlines(), "FROM end AS end"]:
        if found := re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, flags=re.IGNORECASE):
            if name:
                stages[name] = (parent, "\n".join(body))
            parent, name, body = found.group(1), found.group(2) or "", []
        elif line.strip() and not line.startswith("#"):
            body.append(line)
    return stages


def image_text(folder: str, dockerfile: Path = DOCKERFILE) -> str:
    """The instructions of services/Dockerfile's target ``folder`` and of the stages it is built
    FROM, in order (what its image's config holds: ENV, CMD, EXPOSE...)."""
    stages = dockerfile_stages(dockerfile.read_text())
    assert folder in stages, f"services/Dockerfile has no target {folder}"
    chain: list[str] = []
    stage = folder
    while stage in stages:
        parent, body = stages[stage]
        chain.insert(0, body)
        stage = parent
    return "\n".join(chain)


def module_problem(folder: str, module: str) -> str | None:
    """Why ``module`` would not run the code of services/<folder>; None when it would."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return f"{folder}: no module {module!r} in the workspace"
    home = ROOT / "services" / folder / "src"
    if not Path(spec.origin).resolve().is_relative_to(home):
        return f"{folder}: {module!r} is {spec.origin}, not a package of {home}"
    if "." not in module and importlib.util.find_spec(f"{module}.__main__") is None:
        return f"{folder}: {module!r} has no __main__ (python -m would fail)"
    return None


def image_cmd(folder: str) -> list[str]:
    """The exec-form CMD of the image of services/Dockerfile's target ``folder``."""
    text = image_text(folder)
    cmds = re.findall(r"^CMD (\[.*\])\s*$", text, flags=re.MULTILINE)
    assert cmds, f"services/Dockerfile's {folder} has no exec-form CMD"
    cmd = json.loads(cmds[-1])
    assert isinstance(cmd, list)
    return [str(c) for c in cmd]


def test_every_service_command_is_a_module_of_the_project() -> None:
    """Every folder of services/ has a compose service of its name running its own package
    (``python -m <package>``), built from its own target of services/Dockerfile; further services
    built from that target (shop-api's relay and catalog, the orchestrator's Dagster daemon and
    webserver, a profile's variant) run that package too, and the image's own CMD is one of those
    commands."""
    services = polystream_services(load(COMPOSE))
    folders = {p.name for p in (ROOT / "services").iterdir() if p.is_dir()}
    by_folder: dict[str, dict[str, dict[str, Any]]] = {}
    for name, svc in services.items():
        by_folder.setdefault(service_folder(name, svc), {})[name] = svc
    assert set(by_folder) == folders
    assert [f for f in folders if f not in services] == []  # one service named after each folder
    problems = [
        module_problem(service_folder(n, s), command_module(n, s)) for n, s in services.items()
    ]
    assert [p for p in problems if p] == []
    for folder, group in by_folder.items():
        own = group[folder]
        assert own["command"][:2] == ["python", "-m"], f"{folder}: python -m <package>, please"
        package = package_of(folder, own)
        assert {package_of(n, s) for n, s in group.items()} == {package}
        assert {s["image"] for s in group.values()} == {
            f"polystream/{folder}:${{POLYSTREAM_TAG:-dev}}"
        }
        cmd = image_cmd(folder)
        assert any(s["command"][: len(cmd)] == cmd for s in group.values()), (
            f"{folder}: the image's CMD {cmd} is none of its compose commands"
        )


def test_the_image_checks_read_a_targets_own_stages_and_refuse_a_mismatched_build() -> None:
    embedder, producer = image_text("embedder"), image_text("producer")
    assert "COPY --from=model /opt/model /opt/model" in embedder  # through runtime-onnx
    assert "COPY --from=build /opt/venv /opt/venv" in producer  # through runtime
    assert "--from=model" not in producer and "EMBEDDER_" not in producer
    with pytest.raises(AssertionError):
        image_text("no-such-service")
    mismatched = {"dockerfile": "services/Dockerfile", "target": "producer"}
    with pytest.raises(AssertionError):
        service_folder("producer", {"build": {**mismatched, "args": {"SERVICE": "embedder"}}})
    with pytest.raises(AssertionError):
        service_folder("producer", {"build": mismatched})


def test_the_command_check_refuses_a_module_that_is_not_the_services() -> None:
    assert module_problem("producer", "no_such_module") is not None
    assert module_problem("producer", "json") is not None  # exists, but not ours
    assert module_problem("producer", "sensor_consumer") is not None  # ours, another service's
    assert module_problem("orchestrator", "orchestrator.definitions") is None
    assert module_problem("orchestrator", "dashboard.app") is not None
    with pytest.raises(AssertionError):
        command_module("orchestrator-daemon", {"command": ["dagster-daemon", "run"]})
    with pytest.raises(AssertionError):
        command_module("x", {"command": ["sh", "-c", "python -m producer"]})


# -- profiles and shared volumes -------------------------------------------------------------------
PROFILES = ("load", "analytics", "s3", "qdrant", "grafana")


@pytest.mark.parametrize(
    "files", [(COMPOSE,), (COMPOSE, LOCAL_IMAGES)], ids=["compose", "compose+local-images"]
)
def test_docker_compose_accepts_every_profile(docker_compose: str, files: tuple[Path, ...]) -> None:
    args: list[str | Path] = [docker_compose, "--env-file", ENV_FILE]
    for f in files:
        args += ["-f", f]
    for profile in PROFILES:
        args += ["--profile", profile]
    result = run(*args, "config", "-q")
    assert result.returncode == 0, result.stderr


def profile_problems(data: dict[str, Any]) -> list[str]:
    """A service that starts by default must not need one that only a profile starts (``up``
    without the profile would fail), and every profile is one this file documents."""
    services = data["services"]
    problems = []
    for name, svc in services.items():
        problems += [f"{name}: unknown profile {p}" for p in svc.get("profiles", [])
                     if p not in PROFILES]  # fmt: skip
        if svc.get("profiles"):
            continue
        problems += [
            f"{name} (default) depends on {dep} (profile {services[dep]['profiles']})"
            for dep in svc.get("depends_on") or {}
            if services.get(dep, {}).get("profiles")
        ]
    return problems


def test_default_services_need_no_profile() -> None:
    data = load(COMPOSE)
    assert profile_problems(data) == []
    profiled = {n for n, s in data["services"].items() if s.get("profiles")}
    assert {"minio", "minio-init", "lake-writer-s3", "orchestrator-s3"} <= {
        n for n in profiled if "s3" in data["services"][n]["profiles"]
    }
    assert {"orchestrator", "orchestrator-daemon", "orchestrator-webserver", "dashboard"} <= {
        n for n in profiled if "analytics" in data["services"][n]["profiles"]
    }


def test_the_profile_check_refuses_a_default_service_needing_a_profile() -> None:
    data = load(COMPOSE)
    data["services"]["lake-writer"]["depends_on"] = {"minio": {"condition": "service_healthy"}}
    data["services"]["dashboard"]["profiles"] = ["analytcs"]
    assert sorted(profile_problems(data)) == [
        "dashboard: unknown profile analytcs",
        "lake-writer (default) depends on minio (profile ['s3'])",
    ]


def volume_at(svc: dict[str, Any], path: str) -> tuple[str, bool] | None:
    """(named volume, read-only) mounted at ``path`` or above it in a service; None if none."""
    best: tuple[str, str, bool] | None = None
    for spec in svc.get("volumes") or []:
        parts = str(spec).split(":")
        if len(parts) < 2 or parts[0].startswith((".", "/")):
            continue  # a bind mount, or an anonymous volume
        source, target, ro = parts[0], parts[1], parts[2:] == ["ro"]
        if (path == target or path.startswith(target.rstrip("/") + "/")) and (
            best is None or len(target) > len(best[1])
        ):
            best = (source, target, ro)
    return None if best is None else (best[0], best[2])


# (service, the variable naming a path in the shared volume, written by it)
SHARED_PATHS = {
    "lake": [
        ("lake-writer", "LAKE_WRITER_LAKE__URI", True),
        ("orchestrator", "ORCHESTRATOR_LAKE__URI", False),
        ("orchestrator-daemon", "ORCHESTRATOR_LAKE__URI", True),  # compaction
        ("orchestrator-webserver", "ORCHESTRATOR_LAKE__URI", False),
    ],
    "warehouse": [
        ("orchestrator-daemon", "ORCHESTRATOR_WAREHOUSE_PATH", True),  # dbt build
        ("orchestrator", "ORCHESTRATOR_WAREHOUSE_PATH", False),
        ("orchestrator-webserver", "ORCHESTRATOR_WAREHOUSE_PATH", False),
        ("dashboard", "DASHBOARD_WAREHOUSE_PATH", False),
    ],
}


def shared_volume_problems(data: dict[str, Any]) -> list[str]:
    """The lake and the warehouse file are one named volume each, mounted wherever a service's
    setting points (writable where the service writes), and declared at the top level."""
    problems = []
    for volume, users in SHARED_PATHS.items():
        if volume not in (data.get("volumes") or {}):
            problems.append(f"volume {volume} is not declared")
        for name, variable, writes in users:
            svc = data["services"].get(name)
            if svc is None:
                problems.append(f"{name}: no such service")
                continue
            path = str((svc.get("environment") or {}).get(variable, ""))
            if not path.startswith("/"):
                problems.append(f"{name}: {variable}={path!r} is not a path in a volume")
                continue
            mounted = volume_at(svc, path)
            if mounted is None or mounted[0] != volume:
                problems.append(f"{name}: {variable}={path} is not on the volume {volume}")
            elif writes and mounted[1]:
                problems.append(f"{name}: writes {path}, but {volume} is mounted read-only")
    return problems


def test_the_lake_and_the_warehouse_are_shared_volumes() -> None:
    assert shared_volume_problems(load(COMPOSE)) == []


def test_the_volume_check_refuses_a_lake_on_another_volume() -> None:
    data = load(COMPOSE)
    data["services"]["orchestrator-daemon"]["volumes"] = [
        "lake2:/lake",
        "warehouse:/warehouse:ro",
        "orchestrator-state:/var/lib/orchestrator",
    ]
    data["services"]["dashboard"]["environment"]["DASHBOARD_WAREHOUSE_PATH"] = "/tmp/w.duckdb"
    assert sorted(shared_volume_problems(data)) == sorted(
        [
            "orchestrator-daemon: ORCHESTRATOR_LAKE__URI=/lake is not on the volume lake",
            "orchestrator-daemon: writes /warehouse/polystream.duckdb, but warehouse is mounted"
            " read-only",
            "dashboard: DASHBOARD_WAREHOUSE_PATH=/tmp/w.duckdb is not on the volume warehouse",
        ]
    )


def test_the_shared_volumes_mount_points_belong_to_the_services_user() -> None:
    """An empty named volume takes the owner of the image's directory it is mounted on: each
    image that mounts the lake or the warehouse creates that directory for user 65534."""
    data = load(COMPOSE)
    for volume, users in SHARED_PATHS.items():
        for name, _variable, _writes in users:
            svc = data["services"][name]
            folder = service_folder(name, svc)
            target = next(
                str(v).split(":")[1] for v in svc["volumes"] if str(v).startswith(f"{volume}:")
            )
            owned = re.search(
                rf"mkdir[^\n]*\s{re.escape(target)}[\s&][^\n]*chown 65534", image_text(folder)
            )
            assert owned, f"services/Dockerfile's {folder} does not make {target} user 65534's"


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
    names: list[str] = []
    for line in image_text(service).splitlines():
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
        cls = settings_class(package_of(name, base[name]))
        environment = svc.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: environment as a mapping, please"
        if missing := unread_variables(cls, list(environment)):
            unread[name] = missing
    assert unread == {}


def test_every_variable_an_image_sets_is_read_by_its_settings() -> None:
    # HOME: Streamlit's (the dashboard); DAGSTER_HOME: Dagster's instance (the orchestrator).
    general = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "HF_HUB_OFFLINE", "HOME",
               "DAGSTER_HOME"}  # fmt: skip
    unread = {}
    for name, svc in polystream_services(load(COMPOSE)).items():
        folder = service_folder(name, svc)
        cls = settings_class(package_of(name, svc))
        own = [v for v in dockerfile_env(folder) if v not in general and not v.startswith("UV_")]
        if missing := unread_variables(cls, own):
            unread[folder] = missing
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
