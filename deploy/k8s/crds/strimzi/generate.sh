#!/usr/bin/env bash
# Generates the Strimzi CRDs the manifests use (Kafka, KafkaTopic, KafkaNodePool) from Strimzi's
# Maven Central artifacts, as Strimzi's own build does: io.strimzi:crd-generator run on the
# annotated classes of io.strimzi:api, with the arguments of the `generate-crds` execution in
# api's pom.xml (META-INF/maven/io.strimzi/api/pom.xml in the jar). For 1.2.0 the output is
# byte for byte the release's install/cluster-operator/04{0,3,5}-Crd-*.yaml.
#
#   deploy/k8s/crds/strimzi/generate.sh   prints the directory of the generated CRDs
#
# The version is strimzi.version in pom.xml. Cached in .cache/strimzi-crds/crds: the jars are
# fetched (mvn, ~10 s with a cold ~/.m2) and the CRDs generated (~5 s) again only when pom.xml or
# this script changes. Needs mvn, and a Java 21 or newer to run the generator (Strimzi 1.2's
# classes are Java 21 bytecode): $STRIMZI_JAVA, $JAVA_HOME, `java` on PATH or /usr/lib/jvm/*.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
CACHE="$ROOT/.cache/strimzi-crds"
OUT="$CACHE/crds"
POM="$HERE/pom.xml"
JAVA_MIN=21

log() { echo "generate.sh: $*" >&2; }

# <class of io.strimzi:api>=<file name>, the names of Strimzi's install/cluster-operator/.
CRDS=(
  io.strimzi.api.kafka.model.kafka.Kafka=040-Crd-kafka.yaml
  io.strimzi.api.kafka.model.topic.KafkaTopic=043-Crd-kafkatopic.yaml
  io.strimzi.api.kafka.model.nodepool.KafkaNodePool=045-Crd-kafkanodepool.yaml
)

key=$(cat "$POM" "$0" | sha256sum | cut -c1-16)
cached() {
  [[ -f "$OUT/.stamp" && "$(cat "$OUT/.stamp")" == "$key" ]] || return 1
  local crd
  for crd in "${CRDS[@]}"; do
    [[ -s "$OUT/${crd#*=}" ]] || return 1
  done
}
if cached; then
  echo "$OUT"
  exit 0
fi

java_major() {  # the feature release of a java binary: 17, 21, 25 (1 for 1.8)
  "$1" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

find_java() {
  local candidate major
  for candidate in ${STRIMZI_JAVA:-} ${JAVA_HOME:+"$JAVA_HOME/bin/java"} \
    "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    major=$(java_major "$candidate")
    if [[ -n "$major" ]] && ((major >= JAVA_MIN)); then
      echo "$candidate"
      return
    fi
  done
  return 1
}

version=$(sed -n 's:.*<strimzi.version>\(.*\)</strimzi.version>.*:\1:p' "$POM")
command -v mvn >/dev/null || { log "'mvn' is not on PATH"; exit 1; }
java=$(find_java) || {
  log "no Java $JAVA_MIN+ found (Strimzi $version's crd-generator is Java $JAVA_MIN bytecode):"
  log "set STRIMZI_JAVA or JAVA_HOME"
  exit 1
}

log "Strimzi $version CRDs from Maven Central (io.strimzi:api, io.strimzi:crd-generator) -> $OUT (once)"
rm -rf "$CACHE"
mkdir -p "$CACHE"
mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
  -DoutputDirectory="$CACHE/lib" >&2
tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
args=()
for crd in "${CRDS[@]}"; do
  args+=("${crd%%=*}=$tmp/${crd#*=}")
done
"$java" -cp "$CACHE/lib/*" io.strimzi.crdgenerator.CrdGenerator \
  --label app:strimzi --label strimzi.io/crd-install:true \
  --target-kube 1.16+ --crd-api-version v1 --api-versions v1 --storage-version v1 \
  --yaml "${args[@]}" >&2
for crd in "${CRDS[@]}"; do
  grep -q '^kind: CustomResourceDefinition$' "$tmp/${crd#*=}" \
    || { log "${crd#*=}: not a CRD"; exit 1; }
done
echo "$key" >"$tmp/.stamp"
chmod 755 "$tmp"
mv "$tmp" "$OUT"
rm -rf "$CACHE/lib"  # 39 MB; the jars stay in ~/.m2
echo "$OUT"
