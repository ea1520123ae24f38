#!/usr/bin/env bash
# Offline checks of the Kubernetes manifests: `kustomize build` of each overlay, then every object
# validated against the Kubernetes schemas (kubernetes-validate) and the custom resources against
# their CRDs (validate.py): those vendored in crds/, and Strimzi's, generated from its Maven Central
# artifacts by crds/strimzi/generate.sh. No cluster is needed. Installs its tools and generates
# the Strimzi CRDs on first use, cached under .cache/ (kustomize ~80 s with a cold Go module
# cache, the venv ~15 s, the Strimzi CRDs ~15 s with a cold ~/.m2).
#
#   deploy/k8s/check.sh                  build and validate every overlay
#   deploy/k8s/check.sh build OVERLAY    print an overlay's manifests (dev, prod)
#   deploy/k8s/check.sh validate FILE... validate manifests (- = stdin)
#   deploy/k8s/check.sh tools            install the tools (and generate the Strimzi CRDs) only
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
K8S="$ROOT/deploy/k8s"

KUSTOMIZE_VERSION=v5.8.0  # newer tags need a newer Go than the toolchains we have
GOBIN_DIR="$ROOT/.cache/tools/go/bin"
KUSTOMIZE="$GOBIN_DIR/kustomize"
# Not a project dependency: the validator runs in a venv of its own.
VALIDATE_REQUIREMENTS="kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.3"
VENV="$ROOT/.cache/k8s-validate"

log() { echo "check.sh: $*" >&2; }

install_kustomize() {
  if [[ -x "$KUSTOMIZE" ]] && "$KUSTOMIZE" version 2>/dev/null | grep -qx "$KUSTOMIZE_VERSION"; then
    return
  fi
  log "installing kustomize $KUSTOMIZE_VERSION (go install, once)"
  GOBIN="$GOBIN_DIR" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
}

install_validator() {
  if [[ -f "$VENV/.installed" && "$(cat "$VENV/.installed")" == "$VALIDATE_REQUIREMENTS" ]]; then
    return
  fi
  log "creating $VENV ($VALIDATE_REQUIREMENTS, once)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086  # the requirements are words
  "$VENV/bin/pip" install -q --disable-pip-version-check $VALIDATE_REQUIREMENTS
  echo "$VALIDATE_REQUIREMENTS" >"$VENV/.installed"
}

build() {
  install_kustomize
  "$KUSTOMIZE" build "$K8S/overlays/$1"
}

# Strimzi's CRDs are not vendored: generated once (cached) from io.strimzi:api + crd-generator.
strimzi_crds() {
  bash "$K8S/crds/strimzi/generate.sh"
}

validate() {
  install_validator
  local strimzi
  strimzi=$(strimzi_crds)
  "$VENV/bin/python" "$K8S/validate.py" --crd-dir "$K8S/crds" --crd-dir "$strimzi" "$@"
}

case "${1:-all}" in
  build) build "$2" ;;
  validate) shift; validate "$@" ;;
  tools) install_kustomize; install_validator; strimzi_crds >/dev/null ;;
  all)
    install_kustomize
    install_validator
    strimzi_crds >/dev/null
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    files=()
    for overlay in "$K8S"/overlays/*/; do
      name=$(basename "$overlay")
      build "$name" >"$out/$name.yaml"
      files+=("$out/$name.yaml")
    done
    validate "${files[@]}"
    ;;
  *) echo "usage: $0 [build OVERLAY | validate FILE... | tools]" >&2; exit 2 ;;
esac
