"""The Kubernetes manifests (deploy/k8s), offline: each overlay builds with kustomize, every object
is valid against the Kubernetes schemas and its CRD, and what the manifests say agrees with the
code: the topics and their partitions, the modules each container runs, the settings each
variable sets. No cluster is needed; deploy/k8s/check.sh installs and caches its tools."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from aggregator.settings import AggregatorSettings
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from dashboard.settings import DashboardSettings
from embedder.settings import EmbedderSettings
from event_consumer.settings import EventConsumerSettings
from graph_writer.settings import GraphWriterSettings
from lake_writer.settings import LakeWriterSettings
from orchestrator.settings import OrchestratorSettings
from polystream_common.topics import (
    CACHE_INVALIDATIONS,
    DLQ_RETENTION_MS,
    ORDER_PLACED,
    STREAMS,
    Stream,
)
from producer.settings import ProducerServiceSettings
from recsys_api.settings import RecsysApiSettings
from sensor_consumer.settings import SensorConsumerSettings
from shop_api.settings import ShopApiSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CHECK = K8S / "check.sh"
OVERLAYS = ("dev", "prod")

# Each Deployment's containers and the settings class each one reads.
CONTAINERS: dict[str, dict[str, type[BaseSettings]]] = {
    "producer": {"producer": ProducerServiceSettings},
    "sensor-consumer": {"sensor-consumer": SensorConsumerSettings},
    "event-consumer": {"event-consumer": EventConsumerSettings},
    "embedder": {"embedder": EmbedderSettings},
    "graph-writer": {"graph-writer": GraphWriterSettings},
    "aggregator": {"aggregator": AggregatorSettings},
    "recsys-api": {"recsys-api": RecsysApiSettings},
    "lake-writer": {"lake-writer": LakeWriterSettings},
    # The dashboard shares the orchestrator's pod: DuckDB's file lock needs one host.
    "orchestrator": {
        "daemon": OrchestratorSettings,
        "webserver": OrchestratorSettings,
        "metrics": OrchestratorSettings,
        "dashboard": DashboardSettings,
    },
    "shop-api": {"shop-api": ShopApiSettings},
    "shop-relay": {"shop-relay": ShopApiSettings},
    "shop-catalog": {"shop-catalog": ShopApiSettings},
}
# (Deployment, container) -> settings class, every container of every Deployment.
SETTINGS: dict[tuple[str, str], type[BaseSettings]] = {
    (deployment, container): settings
    for deployment, containers in CONTAINERS.items()
    for container, settings in containers.items()
}
# Consumers: the settings class of each KEDA-scaled Deployment (its consumer group).
CONSUMERS: dict[str, type[BaseSettings]] = {
    "sensor-consumer": SensorConsumerSettings,
    "event-consumer": EventConsumerSettings,
    "embedder": EmbedderSettings,
    "graph-writer": GraphWriterSettings,
    "aggregator": AggregatorSettings,
    "lake-writer": LakeWriterSettings,
    "shop-catalog": ShopApiSettings,
}
# Streams of the registry outside STREAMS (their own services ensure them).
SERVICE_STREAMS: tuple[Stream[Any], ...] = (ORDER_PLACED,)
# Commands other than `python -m <package>`: Dagster's own, loading the orchestrator's module.
DAGSTER_COMMANDS = ("dagster-daemon", "dagster-webserver")

Obj = dict[str, Any]


def check(*args: str) -> subprocess.CompletedProcess[str]:
    # The first run installs kustomize (go install) and the validator's venv: minutes at most.
    return subprocess.run(
        ["bash", str(CHECK), *args], capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("k8s")
    files = {}
    for overlay in OVERLAYS:
        built = check("build", overlay)
        assert built.returncode == 0, built.stderr
        files[overlay] = out / f"{overlay}.yaml"
        files[overlay].write_text(built.stdout)
    return files


@pytest.fixture(scope="module")
def manifests(rendered: dict[str, Path]) -> dict[str, list[Obj]]:
    return {
        overlay: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for overlay, path in rendered.items()
    }


@pytest.fixture(params=OVERLAYS)
def objects(request: pytest.FixtureRequest, manifests: dict[str, list[Obj]]) -> list[Obj]:
    return manifests[request.param]


def of_kind(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No SERVICE_* variable of the shell leaks into the settings a test builds."""
    prefixes = tuple({s.model_config.get("env_prefix", "") for s in SETTINGS.values()})
    for variable in list(os.environ):
        if variable.startswith(prefixes) or variable == "ENVIRONMENT":
            monkeypatch.delenv(variable)
    yield monkeypatch


def test_every_object_validates_against_kubernetes_and_crd_schemas(
    rendered: dict[str, Path],
) -> None:
    result = check("validate", *map(str, rendered.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 invalid" in result.stderr


def test_the_validator_rejects_broken_objects(tmp_path: Path) -> None:
    """Each object below is wrong in one way a cluster would refuse; a validator that let one of
    them through would prove nothing about the manifests."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: replicas-not-a-number}
spec:
  replicas: two
  selector: {matchLabels: {a: b}}
  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}
---
apiVersion: v1
kind: Service
metadata: {name: unknown-port-field}
spec: {ports: [{port: 80, targetPort: http, bogus: 1}]}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: hpa-field-on-a-scaledobject}
spec:
  scaleTargetRef: {name: x}
  maxReplicas: 6
  triggers: [{type: kafka, metadata: {topic: t}}]
---
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: partitions-not-a-number}
spec: {partitions: six, replicas: 1}
---
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: zero-instances}
spec: {instances: 0, storage: {size: 1Gi}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: kind-without-a-schema}
"""
    )
    result = check("validate", str(broken))
    assert result.returncode == 1, result.stdout + result.stderr
    for name in (
        "replicas-not-a-number",
        "unknown-port-field",
        "hpa-field-on-a-scaledobject",
        "partitions-not-a-number",
        "zero-instances",
        "kind-without-a-schema",
    ):
        assert f"/{name}: " in result.stdout, f"{name} was not rejected:\n{result.stdout}"
    # Rejected by their schemas, not for want of one (the Strimzi CRDs are generated, not vendored).
    assert result.stdout.count("no schema for") == 1, result.stdout
    assert "partitions-not-a-number: spec.partitions: 'six' is not of type" in result.stdout
    assert "6 objects checked, 6 invalid" in result.stderr


def test_stores_come_from_operators_not_statefulsets(objects: list[Obj]) -> None:
    kinds = {o["kind"] for o in objects}
    assert "StatefulSet" not in kinds
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "Cluster"} <= kinds
    assert "Secret" not in kinds, "secret values are never committed: only references"


def test_kafka_topics_match_the_registry(objects: list[Obj]) -> None:
    topics = {o["spec"]["topicName"]: o["spec"] for o in of_kind(objects, "KafkaTopic").values()}
    streams: tuple[Stream[Any], ...] = (*STREAMS, CACHE_INVALIDATIONS, *SERVICE_STREAMS)
    expected = {s.topic: (s.partitions, dict(s.config)) for s in streams} | {
        s.dlq_topic: (1, {"retention.ms": DLQ_RETENTION_MS}) for s in streams
    }
    assert {t: (spec["partitions"], spec.get("config", {})) for t, spec in topics.items()} == (
        expected
    )


def test_consumers_scale_on_lag_up_to_their_partitions(
    objects: list[Obj], clean_environment: pytest.MonkeyPatch
) -> None:
    partitions = {s.topic: s.partitions for s in (*STREAMS, CACHE_INVALIDATIONS)}
    scaled = of_kind(objects, "ScaledObject")
    assert set(scaled) == set(CONSUMERS)
    deployments = of_kind(objects, "Deployment")
    for name, so in scaled.items():
        spec = so["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        triggers = spec["triggers"]
        assert {t["type"] for t in triggers} == {"kafka"}
        # The group the service commits in is the one whose lag KEDA reads.
        assert {t["metadata"]["consumerGroup"] for t in triggers} == {
            CONSUMERS[name]().consumer.group_id  # type: ignore[attr-defined]
        }
        topics = [t["metadata"]["topic"] for t in triggers]
        # A replica beyond the partition count of the largest topic would own no partition.
        assert spec["maxReplicaCount"] == max(partitions[t] for t in topics), name
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]

    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    assert set(hpas) == {"recsys-api", "shop-api"}
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == name


def test_singletons_never_run_twice(objects: list[Obj]) -> None:
    """One Dagster daemon and one DuckDB writer; one outbox relay keeps each order's records in
    order. `Recreate` stops the old pod before the new one starts, and nothing scales them."""
    deployments = of_kind(objects, "Deployment")
    scaled = {
        o["spec"]["scaleTargetRef"]["name"] for o in of_kind(objects, "ScaledObject").values()
    }
    scaled |= {
        o["spec"]["scaleTargetRef"]["name"]
        for o in of_kind(objects, "HorizontalPodAutoscaler").values()
    }
    for name in ("orchestrator", "shop-relay"):
        assert deployments[name]["spec"]["replicas"] == 1, name
        assert deployments[name]["spec"]["strategy"] == {"type": "Recreate"}, name
        assert name not in scaled, name


def test_the_dashboard_reads_the_warehouse_the_orchestrator_writes(objects: list[Obj]) -> None:
    """Same pod (one host: DuckDB's lock), same volume, same file; the dashboard only reads."""
    pod = of_kind(objects, "Deployment")["orchestrator"]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    plain = {name: _environment(objects, "orchestrator", name)[0] for name in containers}
    volumes = {v["name"]: v for v in pod["volumes"]}

    def host_path(container: str, path: str) -> tuple[str, str]:
        """(volume, path inside it) of a file as a container sees it."""
        for mount in containers[container]["volumeMounts"]:
            root = mount["mountPath"].rstrip("/") + "/"
            if path.startswith(root):
                return mount["name"], path.removeprefix(root)
        raise AssertionError(f"{container}: {path} is on no volume")

    writer = host_path("daemon", plain["daemon"]["ORCHESTRATOR_WAREHOUSE_PATH"])
    assert host_path("dashboard", plain["dashboard"]["DASHBOARD_WAREHOUSE_PATH"]) == writer
    assert host_path("metrics", plain["metrics"]["ORCHESTRATOR_WAREHOUSE_PATH"]) == writer
    claim = volumes[writer[0]]["persistentVolumeClaim"]["claimName"]
    claims = of_kind(objects, "PersistentVolumeClaim")
    assert claims[claim]["spec"]["accessModes"] == ["ReadWriteOnce"]  # never a network FS
    dashboard_mount = next(
        m for m in containers["dashboard"]["volumeMounts"] if m["name"] == writer[0]
    )
    assert dashboard_mount["readOnly"] is True


def test_lake_writer_and_orchestrator_share_the_lake(objects: list[Obj]) -> None:
    """The same lake for the writer and the orchestrator: one ReadWriteMany claim mounted where
    both URIs point (base, dev), or the same s3:// URI with the keys from one Secret (prod)."""
    writer, writer_refs = _environment(objects, "lake-writer", "lake-writer")
    reader, reader_refs = _environment(objects, "orchestrator", "daemon")
    uri = writer["LAKE_WRITER_LAKE__URI"]
    if uri.startswith("s3://"):
        assert reader["ORCHESTRATOR_LAKE__URI"] == uri
        keys = ("S3_ACCESS_KEY", "S3_SECRET_KEY")
        assert [writer_refs[f"LAKE_WRITER_LAKE__{k}"] for k in keys] == [
            reader_refs[f"ORCHESTRATOR_LAKE__{k}"] for k in keys
        ]
        assert "PersistentVolumeClaim" not in {
            o["kind"] for o in objects if o["metadata"]["name"] == "lake"
        }
        return
    deployments = of_kind(objects, "Deployment")

    def claim_at(deployment: str, container: str, path: str) -> str:
        pod = deployments[deployment]["spec"]["template"]["spec"]
        (mount,) = [
            m
            for c in pod["containers"]
            if c["name"] == container
            for m in c["volumeMounts"]
            if m["mountPath"] == path
        ]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        return str(volume["persistentVolumeClaim"]["claimName"])

    claim = claim_at("lake-writer", "lake-writer", uri)
    assert claim_at("orchestrator", "daemon", reader["ORCHESTRATOR_LAKE__URI"]) == claim
    lake = of_kind(objects, "PersistentVolumeClaim")[claim]
    assert lake["spec"]["accessModes"] == ["ReadWriteMany"]


def test_every_service_is_deployed_hardened_and_probed(objects: list[Obj]) -> None:
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == set(CONTAINERS)
    pdbs = of_kind(objects, "PodDisruptionBudget")
    services = of_kind(objects, "Service")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert [c["name"] for c in pod["containers"]] == list(CONTAINERS[name]), name
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where
            assert {"livenessProbe", "readinessProbe"} <= container.keys(), where
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
            assert "memory" in container["resources"]["limits"], where
            # A read-only root: every container has a writable /tmp.
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}, where
        assert pdbs[name]["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert services[name]["spec"]["selector"].items() <= labels.items(), name

    for name, settings in (("recsys-api", RecsysApiSettings), ("shop-api", ShopApiSettings)):
        api = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert api["ports"][0]["containerPort"] == settings.model_fields["port"].default


def test_each_container_runs_a_module_of_the_project(objects: list[Obj]) -> None:
    for name, deployment in of_kind(objects, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            where = (name, container["name"])
            command = container["command"]
            if command[0] in DAGSTER_COMMANDS:
                # Dagster loads the code location from the module after -m.
                definitions = command[command.index("-m") + 1]
                assert importlib.util.find_spec(definitions) is not None, where
                module = definitions.split(".")[0]
            else:
                assert command[:2] == ["python", "-m"], where
                module = command[2]
                assert importlib.util.find_spec(f"{module}.__main__") is not None, where
            assert SETTINGS[where].__module__ == f"{module}.settings", where


def _resolves(model: type[BaseModel], parts: list[str]) -> bool:
    """Whether ``a__b__c`` names a field (case-insensitive, as pydantic-settings reads it)."""
    fields = {name.lower(): field for name, field in model.model_fields.items()}
    field = fields.get(parts[0].lower())
    if field is None or len(parts) == 1:
        return field is not None
    nested = [
        t
        for t in (field.annotation, *get_args(field.annotation))
        if isinstance(t, type) and issubclass(t, BaseModel)
    ]
    return any(_resolves(t, parts[1:]) for t in nested)


def _environment(
    objects: list[Obj], name: str, container_name: str
) -> tuple[dict[str, str], dict[str, Obj]]:
    """The plain variables (from the ConfigMaps) and the Secret references of a container."""
    pod = of_kind(objects, "Deployment")[name]["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == container_name]
    config_maps = of_kind(objects, "ConfigMap")
    plain: dict[str, str] = {}
    for source in container.get("envFrom", []):
        plain |= config_maps[source["configMapRef"]["name"]]["data"]
    refs = {}
    for var in container.get("env", []):
        if "value" in var:
            plain[var["name"]] = var["value"]
        elif "secretKeyRef" in var["valueFrom"]:
            refs[var["name"]] = var["valueFrom"]["secretKeyRef"]
        else:
            plain[var["name"]] = "from-the-downward-api"
    return plain, refs


def test_every_variable_is_one_the_settings_class_reads(objects: list[Obj]) -> None:
    for (name, container), settings in SETTINGS.items():
        prefix = settings.model_config.get("env_prefix", "")
        plain, refs = _environment(objects, name, container)
        for variable in (*plain, *refs):
            assert variable.startswith(prefix), f"{name}: {variable} lacks {prefix}"
            parts = variable.removeprefix(prefix).split("__")
            assert _resolves(settings, parts), f"{name}: {settings.__name__} never reads {variable}"


def test_each_service_starts_from_its_configuration(
    objects: list[Obj], clean_environment: pytest.MonkeyPatch
) -> None:
    """The settings class accepts the configuration as a pod gets it (the Secrets standing in as
    non-default values): values parse, and outside development no default credential is left."""
    readme = (K8S / "README.md").read_text()
    for (name, container), settings in SETTINGS.items():
        plain, refs = _environment(objects, name, container)
        with pytest.MonkeyPatch.context() as env:
            for variable, value in plain.items():
                env.setenv(variable, value)
            for variable, ref in refs.items():
                assert f"`{ref['name']}`" in readme, f"README.md does not say who makes {ref}"
                secret = "from-a-secret"
                if variable.endswith("URL"):
                    secret = "mongodb://u:p@db/x" if "MONGO" in variable else "redis://:p@r:6379/0"
                env.setenv(variable, secret)
            settings()
