#!/usr/bin/env bash
# Installs what the local stack runs, once; each step is skipped when its stamp in .cache/ exists
# (a second run takes well under a second).
#   apt:    PostgreSQL 15, Redis, Prometheus, python3 (probes), iproute2 (ss), gettext-base
#           (envsubst: the Prometheus config from its template); services stay off
#   maven:  Kafka 4.1 broker + kafka-tools jars + log4j2 SLF4J binding -> .cache/kafka/lib
#   go:     process-compose (the supervisor of the stack)                -> .cache/bin
#   hooks:  deploy/local/<component>/install.sh of each extra component (mongo/, milvus/, neo4j/)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$ROOT/.cache"
PROCESS_COMPOSE_VERSION=v1.85.0
PROCESS_COMPOSE_MODULE=github.com/f1bonacc1/process-compose
mkdir -p "$CACHE/bin"

# -- apt: one `apt-get update`, only when something is missing -------------------------------
apt_packages=(postgresql redis-server prometheus python3 iproute2 gettext-base)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install: apt packages ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
for tool in java mvn go; do
  command -v "$tool" >/dev/null || { echo "install: '$tool' is not on PATH (see README.md)" >&2; exit 1; }
done

# -- Kafka jars from Maven Central -------------------------------------------------------------
pom="$HERE/kafka/pom.xml"
stamp="$CACHE/kafka/.stamp-$(sha256sum "$pom" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install: Kafka jars from Maven Central -> .cache/kafka/lib (once)"
  rm -rf "$CACHE/kafka"
  mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$CACHE/kafka/lib"
  # Kafka 4.1 logs through SLF4J 1.7 (slf4j-api-1.7.x), which binds to log4j-slf4j-impl;
  # SLF4J 2.x would need log4j-slf4j2-impl in pom.xml instead.
  if compgen -G "$CACHE/kafka/lib/slf4j-api-2.*" >/dev/null; then
    echo "install: slf4j-api 2.x found: switch kafka/pom.xml to log4j-slf4j2-impl" >&2
    exit 1
  fi
  touch "$stamp"
fi

# -- process-compose, built from the Go module proxy ------------------------------------------
# `go install module@version` fails here: it asks the proxy for the module's version list
# (deprecation check), which the proxy refuses (403). So: download the tagged module, then
# `go install` inside it (as the main module, with its own go.sum).
stamp="$CACHE/bin/.stamp-process-compose-$PROCESS_COMPOSE_VERSION"
if [ ! -f "$stamp" ] || [ ! -x "$CACHE/bin/process-compose" ]; then
  echo "install: building process-compose $PROCESS_COMPOSE_VERSION -> .cache/bin (once, ~2 min)"
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOTOOLCHAIN=local \
         GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
  src=$(go mod download -json "$PROCESS_COMPOSE_MODULE@$PROCESS_COMPOSE_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$src" ] || [ ! -d "$src" ]; then echo "install: go mod download failed" >&2; exit 1; fi
  (cd "$src" && GOBIN="$CACHE/bin" go install -trimpath \
    -ldflags "-s -w -X $PROCESS_COMPOSE_MODULE/src/config.Version=$PROCESS_COMPOSE_VERSION" .)
  rm -rf "$GOCACHE"  # the build cache (~300 MB) is not needed again; the module cache stays
  touch "$stamp"
fi

# -- extra components (each owns its install.sh and its own stamp) -------------------------------
for hook in "$HERE"/*/install.sh; do
  [ -f "$hook" ] && bash "$hook"
done
exit 0
