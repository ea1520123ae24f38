#!/usr/bin/env bash
# `make test-compose`: the compose stream on a real Docker engine, on a machine with no registry.
#   1. apt: docker.io containerd runc debootstrap docker-compose (once)
#   2. dockerd started by hand; data root, exec root, pidfile and socket under .cache/docker
#      (the data root is the image and build cache: a second run rebuilds nothing that is unchanged)
#   3. base images made offline: debootstrap bookworm (its tarball cached in .cache/compose), tagged
#      python:3.11-slim-bookworm and debian:bookworm-slim; ghcr.io/astral-sh/uv:0.9 from PyPI's uv
#      wheel. So services/Dockerfile builds unchanged.
#   4. the stand-ins of compose.local-images.yaml (standins/*.Dockerfile, from deploy/local's pieces)
#      and every service image (services/Dockerfile, one target each), `docker build --network=host`
#   5. `docker-compose up` of compose.yaml + compose.local-images.yaml, every healthcheck awaited
#   6. tests/deploy/test_compose_engine.py: a known load, exact counts in every store and in the
#      lake, an order through shop-api, Prometheus scraping every service
#   7. down -v, dockerd stopped (also on failure; COMPOSE_KEEP=1 leaves the stream up to look at)
# Usage: test-compose.sh [all|engine|images|up|test|down|stop-engine]   (default: all)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE="$ROOT/.cache/compose"
ENGINE="$ROOT/.cache/docker"
export DOCKER_HOST="unix://$ENGINE/docker.sock"
# Debian's 20.10 CLI: it builds with the daemon's BuildKit and needs no buildx plugin.
DOCKER=/usr/bin/docker
UV_VERSION=0.9.30           # the uv of ghcr.io/astral-sh/uv:0.9, the tag services/Dockerfile names
TAG=${POLYSTREAM_TAG:-dev}  # compose.yaml's polystream/<service>:${POLYSTREAM_TAG:-dev}
PROJECT=polystream-ci
# The images the test builds and runs. Not the orchestrator's and the dashboard's (profile
# analytics: Dagster, dbt and Streamlit, the heaviest image, for a nightly job the test could only
# trigger by hand) and not MinIO (profile s3: no image or stand-in here): compose.yaml's config for
# both profiles is validated offline (tests/deploy/test_compose_offline.py).
SERVICES=(producer sensor-consumer event-consumer embedder graph-writer aggregator recsys-api
          lake-writer shop-api)
STANDINS=(kafka postgres redis mongo neo4j milvus prometheus)
# Host ports of the assertions (127.0.0.1 only; none is one of deploy/local/stack.env's).
export RECSYS_API_PUBLISH=127.0.0.1:38000 PROMETHEUS_PUBLISH=127.0.0.1:39090 \
       SHOP_API_PUBLISH=127.0.0.1:38001 DASHBOARD_PUBLISH=127.0.0.1:38501 \
       DAGSTER_PUBLISH=127.0.0.1:33070 MINIO_CONSOLE_PUBLISH=127.0.0.1:39001
export COMPOSE_TEST_POSTGRES_PORT=35432 COMPOSE_TEST_MONGO_PORT=37017 \
       COMPOSE_TEST_MILVUS_PORT=39530 COMPOSE_TEST_NEO4J_PORT=37687
COMPOSE=(docker-compose --compatibility -p "$PROJECT" --project-directory "$HERE" --env-file "$HERE/.env.example"
         -f "$HERE/compose.yaml" -f "$HERE/compose.local-images.yaml")
export POLYSTREAM_TAG=$TAG COMPOSE_HTTP_TIMEOUT=300

T0=$SECONDS
step() { printf '\n== [%4ss] %s\n' "$((SECONDS - T0))" "$*"; }
die() { echo "test-compose: $*" >&2; exit 1; }

install_tools() {
  local pkg missing=()
  for pkg in docker.io containerd runc debootstrap docker-compose; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    step "apt: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The stand-ins copy the jars deploy/local installs (Kafka, mongo-java-server, Neo4j).
  bash "$ROOT/deploy/local/install.sh"
}

engine_up() {
  if $DOCKER version >/dev/null 2>&1; then return; fi
  step "dockerd (data root .cache/docker/data)"
  mkdir -p "$ENGINE"
  # setsid: its own process group, so a Ctrl-C of this script does not reach it before `down`.
  setsid dockerd --data-root "$ENGINE/data" --exec-root "$ENGINE/exec" \
    --pidfile "$ENGINE/dockerd.pid" -H "$DOCKER_HOST" --iptables=false --ip-forward=false \
    --ip-masq=false --storage-driver=overlay2 >"$ENGINE/dockerd.log" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 60; i++)); do
    $DOCKER version >/dev/null 2>&1 && return
    sleep 0.5
  done
  tail -20 "$ENGINE/dockerd.log" >&2
  die "dockerd did not answer on $DOCKER_HOST"
}

engine_down() {
  [ -f "$ENGINE/dockerd.pid" ] || return 0
  local pid; pid=$(cat "$ENGINE/dockerd.pid")
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$ENGINE/data"; then
    step "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    local i
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# -- base images, offline ------------------------------------------------------------------------
# The rootfs: Debian bookworm minbase with python3 (3.11, as python:3.11-slim-bookworm) and this
# machine's CA certificates (its egress to PyPI goes through a TLS proxy; SSL_CERT_FILE makes uv
# use them). Rebuilt when this recipe or the certificates change.
BASE_PACKAGES=ca-certificates,python3
unmount_under() {  # dir: lazily unmount whatever is mounted below it, deepest first
  local mnt
  for mnt in $(awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$mnt" || true
  done
}
base_images() {
  local digest tarball rootfs
  digest=$( (echo "$BASE_PACKAGES"; cat /usr/local/share/ca-certificates/*.crt 2>/dev/null) |
    sha256sum | cut -c1-12)
  if $DOCKER image inspect "polystream/bookworm:$digest" >/dev/null 2>&1; then
    :
  else
    tarball="$CACHE/bookworm-$digest.tar"
    if [ ! -f "$tarball" ]; then
      step "debootstrap bookworm -> .cache/compose/bookworm-$digest.tar (once, ~1-2 min)"
      rootfs="$CACHE/rootfs.tmp"
      unmount_under "$rootfs"
      rm -rf --one-file-system "$rootfs" && mkdir -p "$rootfs"
      debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" \
        http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 ||
        { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
      cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
      chroot "$rootfs" update-ca-certificates >/dev/null
      ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
      printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
        >"$rootfs/etc/apt/sources.list"
      unmount_under "$rootfs"  # debootstrap's /proc, /sys if it left them mounted
      rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
      tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
      rm -rf --one-file-system "$rootfs"
    fi
    step "docker import the base image"
    $DOCKER import \
      -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt LANG=C.UTF-8' \
      -c 'CMD ["python3"]' "$tarball" "polystream/bookworm:$digest" >/dev/null
  fi
  $DOCKER tag "polystream/bookworm:$digest" python:3.11-slim-bookworm
  $DOCKER tag "polystream/bookworm:$digest" debian:bookworm-slim

  if ! $DOCKER image inspect ghcr.io/astral-sh/uv:0.9 >/dev/null 2>&1 ||
     [ "$($DOCKER image inspect -f '{{index .Config.Labels "uv.version"}}' ghcr.io/astral-sh/uv:0.9)" != "$UV_VERSION" ]; then
    step "ghcr.io/astral-sh/uv:0.9 from PyPI's uv $UV_VERSION wheel"
    local dir="$CACHE/uv-$UV_VERSION"
    if [ ! -x "$dir/uv" ]; then
      rm -rf "$dir" && mkdir -p "$dir"
      python3 -m pip download -q --no-deps --only-binary :all: --platform manylinux_2_17_x86_64 \
        --python-version 3.11 "uv==$UV_VERSION" -d "$dir"
      python3 - "$dir" "$UV_VERSION" <<'PY'
import glob, os, sys, zipfile
folder, version = sys.argv[1:]
wheel = zipfile.ZipFile(glob.glob(os.path.join(folder, "uv-*.whl"))[0])
for name in ("uv", "uvx"):
    path = os.path.join(folder, name)
    with open(path, "wb") as out:
        out.write(wheel.read(f"uv-{version}.data/scripts/{name}"))
    os.chmod(path, 0o755)
PY
    fi
    printf 'FROM scratch\nLABEL uv.version=%s\nCOPY uv uvx /\n' "$UV_VERSION" |
      $DOCKER build -q -t ghcr.io/astral-sh/uv:0.9 -f - "$dir" >/dev/null
  fi
}

# -- stand-ins and service images ----------------------------------------------------------------
# Each stand-in builds from a context staged in .cache/compose/context/<name>: its Dockerfile's
# folder (deploy/compose/standins) plus what it copies from deploy/local and its install cache.
stage() {  # name, then source:dest pairs relative to the context
  local ctx="$CACHE/context/$1"; shift
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r "$HERE/standins/." "$ctx/"
  local pair
  for pair in "$@"; do
    mkdir -p "$ctx/$(dirname "${pair#*:}")"
    cp -rl "${pair%%:*}" "$ctx/${pair#*:}" 2>/dev/null || cp -r "${pair%%:*}" "$ctx/${pair#*:}"
  done
}

build() {  # tag, dockerfile, context, then docker build's own options
  local tag=$1 dockerfile=$2 context=$3 log="$CACHE/logs/build-${1//[\/:]/_}.log" start=$SECONDS
  shift 3
  mkdir -p "$CACHE/logs"
  if ! DOCKER_BUILDKIT=1 $DOCKER build --network=host --progress=plain -t "$tag" -f "$dockerfile" \
       "$@" "$context" >"$log" 2>&1; then
    tail -40 "$log" >&2
    die "build of $tag failed (log: $log)"
  fi
  printf '   %-40s %4ss\n' "$tag" "$((SECONDS - start))"
}

images() {
  base_images
  step "stand-in images (compose.local-images.yaml)"
  local L="$ROOT/deploy/local" C="$ROOT/.cache"
  stage kafka "$C/kafka/lib:kafka/lib" "$L/kafka/server.properties.template:kafka/server.properties.template" \
    "$L/kafka/log4j2.properties:kafka/log4j2.properties" "$L/kafka/ready.py:kafka/ready.py"
  build polystream-standin/kafka:4.1 "$CACHE/context/kafka/kafka.Dockerfile" "$CACHE/context/kafka"
  stage postgres
  build polystream-standin/postgres:15 "$CACHE/context/postgres/postgres.Dockerfile" "$CACHE/context/postgres"
  stage redis
  build polystream-standin/redis:7 "$CACHE/context/redis/redis.Dockerfile" "$CACHE/context/redis"
  stage mongo "$C/mongo/lib:mongo/lib" "$C/mongo/classes:mongo/classes" "$L/mongo/ready.py:mongo/ready.py"
  build polystream-standin/mongo:wire "$CACHE/context/mongo/mongo.Dockerfile" "$CACHE/context/mongo"
  # Neo4jServerMain binds Bolt to 127.0.0.1 (right for the local stack); in a container it must
  # listen on every interface: the same source, that one address changed, compiled here.
  stage neo4j "$C/neo4j/lib:neo4j/lib" "$L/neo4j/ready.py:neo4j/ready.py"
  mkdir -p "$CACHE/context/neo4j/neo4j/src"
  sed 's/BoltConnector.listen_address, new SocketAddress("127.0.0.1"/BoltConnector.listen_address, new SocketAddress("0.0.0.0"/' \
    "$L/neo4j/Neo4jServerMain.java" >"$CACHE/context/neo4j/neo4j/src/Neo4jServerMain.java"
  grep -q 'listen_address, new SocketAddress("0.0.0.0"' "$CACHE/context/neo4j/neo4j/src/Neo4jServerMain.java" ||
    die "Neo4jServerMain.java changed: the stand-in's listen address edit no longer applies"
  javac -nowarn -d "$CACHE/context/neo4j/neo4j/classes" -cp "$C/neo4j/lib/*" \
    "$CACHE/context/neo4j/neo4j/src/Neo4jServerMain.java"
  build polystream-standin/neo4j:5.26 "$CACHE/context/neo4j/neo4j.Dockerfile" "$CACHE/context/neo4j"
  stage milvus "$L/milvus/serve.py:milvus/serve.py" "$L/milvus/ready.py:milvus/ready.py"
  build polystream-standin/milvus:2.3 "$CACHE/context/milvus/milvus.Dockerfile" "$CACHE/context/milvus"
  stage prometheus
  build polystream-standin/prometheus:2 "$CACHE/context/prometheus/prometheus.Dockerfile" "$CACHE/context/prometheus"

  step "service images (services/Dockerfile, a target each)"
  local svc
  for svc in "${SERVICES[@]}"; do
    build "polystream/$svc:$TAG" "$ROOT/services/Dockerfile" "$ROOT" --target "$svc" --build-arg "SERVICE=$svc"
  done
  $DOCKER image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^polystream' | sort
}

# -- the stream ----------------------------------------------------------------------------------
up() {
  step "docker-compose up (stores, Prometheus, services)"
  "${COMPOSE[@]}" up -d --no-build 2>&1 | grep -v '^Creating\|^Starting' || true
  wait_healthy 420
}

wait_healthy() {  # seconds: until every container of the project is healthy
  local timeout=$1 start=$SECONDS ids id state name bad
  while :; do
    bad=""
    ids=$($DOCKER ps -aq --filter "label=com.docker.compose.project=$PROJECT")
    [ -n "$ids" ] || die "no container of project $PROJECT"
    for id in $ids; do
      read -r name state < <($DOCKER inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      case "$state" in
        healthy) ;;
        exited|dead|unhealthy) logs_of "${name#/}"; die "${name#/} is $state" ;;
        *) bad="$bad ${name#/}($state)" ;;
      esac
    done
    if [ -z "$bad" ]; then
      echo "   every container healthy after $((SECONDS - start))s"
      return
    fi
    if ((SECONDS - start > timeout)); then
      for id in $bad; do logs_of "${id%%(*}"; done
      die "not healthy after ${timeout}s:$bad"
    fi
    sleep 3
  done
}

logs_of() { echo "----- $1" >&2; $DOCKER logs --tail 40 "$1" >&2 2>&1 || true; }

run_tests() {
  step "tests/deploy/test_compose_engine.py"
  POLYSTREAM_COMPOSE_ENGINE=1 POLYSTREAM_COMPOSE_CMD="${COMPOSE[*]}" \
    "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider -q "$ROOT/tests/deploy/test_compose_engine.py"
}

down() {
  if $DOCKER version >/dev/null 2>&1; then
    step "docker-compose down -v"
    "${COMPOSE[@]}" --profile load --profile analytics --profile s3 down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  fi
}

finish() {
  local status=$?
  if [ -n "${COMPOSE_KEEP:-}" ]; then
    echo "COMPOSE_KEEP: the stream and dockerd stay up (DOCKER_HOST=$DOCKER_HOST)"
  else
    down
    engine_down
  fi
  step "done (exit $status)"
  exit $status
}

mkdir -p "$CACHE"
cd "$ROOT"
case "${1:-all}" in
  all)
    trap finish EXIT
    install_tools
    engine_up
    images
    up
    run_tests
    ;;
  engine) install_tools; engine_up ;;
  base) engine_up; base_images ;;
  images) engine_up; images ;;
  up) engine_up; up ;;
  test) run_tests ;;
  down) down ;;
  stop-engine) down; engine_down ;;
  *) die "usage: test-compose.sh [all|engine|images|up|test|down|stop-engine]" ;;
esac
