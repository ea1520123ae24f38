"""Validate Kubernetes manifests offline: every built-in object against the Kubernetes OpenAPI
schemas that the PyPI package kubernetes-validate ships, every custom resource against the
openAPIV3Schema of its CRD: those vendored under deploy/k8s/crds/, and Strimzi's, which are not
vendored but generated from Strimzi's Maven Central artifacts (deploy/k8s/crds/strimzi/generate.sh,
into .cache/strimzi-crds/crds), each directory given with ``--crd-dir``.

Both are strict, as ``kubectl apply`` is by default (server-side field validation ``Strict``): a
field the schema does not know is an error, not a field the API server drops. An object of a kind
with neither schema is an error too, so nothing passes unchecked.

Run by deploy/k8s/check.sh in its own cached virtualenv (kubernetes-validate is not a project
dependency): ``validate.py [--crd-dir DIR ...] [--kubernetes-version 1.30.0 ...] FILE...``
(``-`` = standard input; without ``--crd-dir``, only deploy/k8s/crds/).
Prints one line per error and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml

CRD_DIR = Path(__file__).resolve().parent / "crds"
# The oldest Kubernetes minor we support and the newest the pinned kubernetes-validate knows.
DEFAULT_VERSIONS = ("1.30.0", "1.37.0")

Schemas = dict[tuple[str, str], dict[str, Any]]
# libyaml: the CRDs are 0.9 MB of YAML, 7 s for the pure-Python loader, 0.5 s for this.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# kubernetes-validate parses its 1.3 MB definitions file again for every object; it never changes
# what it loaded, so one parse per file serves them all (both overlays: 10 s -> under 1 s of CPU).
kubernetes_validate.utils.schema_contents = functools.cache(
    kubernetes_validate.utils.schema_contents
)


def crd_schemas(crd_dirs: Iterable[Path] = (CRD_DIR,)) -> Schemas:
    """(apiVersion, kind) -> the strict JSON schema of each served version of each CRD found
    (recursively) in the directories."""
    schemas: Schemas = {}
    paths: list[Path] = []
    for crd_dir in crd_dirs:
        if not crd_dir.is_dir():
            raise SystemExit(f"validate.py: no CRD directory {crd_dir}")
        paths += crd_dir.rglob("*.yaml")
    for path in sorted(paths):
        for crd in yaml.load_all(path.read_text(), Loader=Loader):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    schema = version["schema"]["openAPIV3Schema"]
                    schemas[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return schemas


def _strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists its properties
    and does not keep unknown fields: the API server's strict field validation."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def documents(paths: Iterable[str]) -> Iterator[tuple[str, Any]]:
    for name in paths:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
        for doc in yaml.load_all(text, Loader=Loader):
            if doc is not None:
                yield name, doc


def errors_of(doc: Any, schemas: Schemas, versions: Iterable[str]) -> list[str]:
    """Every error of one object; empty when it is valid."""
    if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
        return ["not a Kubernetes object (no apiVersion or kind)"]
    name = (doc.get("metadata") or {}).get("name")
    if not name:
        return ["metadata.name is missing"]
    schema = schemas.get((doc["apiVersion"], doc["kind"]))
    if schema is not None:
        validator = jsonschema.Draft7Validator(schema)
        return [f"{_path(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    errors = []
    for version in versions:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return [
                f"no schema for {doc['apiVersion']} {doc['kind']}: neither a Kubernetes kind"
                " nor one of the CRDs given"
            ]
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"Kubernetes {version}: {_path(exc.path)}: {exc.message}")
    return errors


def _path(parts: Iterable[Any]) -> str:
    return ".".join(str(part) for part in parts) or "(object)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="multi-document YAML files; - = stdin")
    parser.add_argument(
        "--crd-dir",
        action="append",
        dest="crd_dirs",
        type=Path,
        help=f"validate custom resources against the CRDs in DIR (repeatable; default {CRD_DIR})",
    )
    parser.add_argument(
        "--kubernetes-version",
        action="append",
        dest="versions",
        help=f"validate against this version (repeatable; default {', '.join(DEFAULT_VERSIONS)})",
    )
    args = parser.parse_args(argv)
    versions = args.versions or list(DEFAULT_VERSIONS)
    schemas = crd_schemas(args.crd_dirs or [CRD_DIR])
    checked = failed = 0
    for source, doc in documents(args.files):
        checked += 1
        errors = errors_of(doc, schemas, versions)
        if errors:
            failed += 1
            what = "?"
            if isinstance(doc, dict):
                what = f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
            for error in errors:
                print(f"{source}: {what}: {error}")
    print(f"{checked} objects checked, {failed} invalid", file=sys.stderr)
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
