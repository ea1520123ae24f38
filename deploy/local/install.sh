#!/usr/bin/env bash
# Installs what the local stack runs, once; every step is skipped when its result is cached.
#   apt:    PostgreSQL 15, Redis, Prometheus (Debian packages; their system services stay off)
#   maven:  Kafka 4.x broker + kafka-tools jars and a log4j2 SLF4J binding -> .cache/kafka/lib
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

apt_packages=(postgresql redis-server prometheus)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

pom="$ROOT/deploy/local/kafka/pom.xml"
stamp="$CACHE/kafka/.stamp-$(sha256sum "$pom" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "fetching Kafka jars from Maven Central (once)"
  rm -rf "$CACHE/kafka/lib"
  mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$CACHE/kafka/lib"
  # Kafka 4.x logs through SLF4J 1.7: the log4j-slf4j-impl binding only fits that line.
  if ls "$CACHE/kafka/lib" | grep -q '^slf4j-api-2\.'; then
    echo "slf4j-api 2.x found: switch deploy/local/kafka/pom.xml to log4j-slf4j2-impl" >&2
    exit 1
  fi
  touch "$stamp"
fi
