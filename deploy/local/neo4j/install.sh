#!/usr/bin/env bash
# Installs the local stack's Neo4j server (Neo4j 5.26 LTS embedded, with Bolt) once:
#   maven: org.neo4j:neo4j and its dependencies (~213 jars, ~123 MB) -> .cache/neo4j/lib
#   javac: Neo4jServerMain.java (our tiny main)                      -> .cache/neo4j/classes
# Skipped when .cache/neo4j holds a build of the current pom.xml and Neo4jServerMain.java.
# Start it with start.sh (or the process-compose entry in deploy/local).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CACHE="$ROOT/.cache/neo4j"

digest=$(cat "$HERE/pom.xml" "$HERE/Neo4jServerMain.java" | sha256sum | cut -c1-16)
stamp="$CACHE/.stamp-$digest"
if [ -f "$stamp" ]; then
  exit 0
fi
# One install at a time: `stack.sh up` runs this hook, and tests start `stack.sh up` on their own.
mkdir -p "$ROOT/.cache"
exec 9>"$ROOT/.cache/.neo4j-install.lock"
flock 9
if [ -f "$stamp" ]; then  # another run installed it while this one waited
  exit 0
fi

echo "install: Neo4j 5.26 jars from Maven Central -> .cache/neo4j (once)"
# Built next to the old one, then swapped in: a running server keeps reading its jars (`stack.sh
# up` runs this while the stack may be up), and never finds them half copied.
rm -rf "$CACHE.new" "$CACHE.old"
mkdir -p "$CACHE.new"
mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
  -DoutputDirectory="$CACHE.new/lib"
# Compiled once here: `java Neo4jServerMain.java` (single-source launch) would compile it against
# the 213 jars on every start (~2.5 s).
javac -nowarn -d "$CACHE.new/classes" -cp "$CACHE.new/lib/*" "$HERE/Neo4jServerMain.java"
touch "$CACHE.new/.stamp-$digest"
if [ -d "$CACHE" ]; then mv "$CACHE" "$CACHE.old"; fi
mv "$CACHE.new" "$CACHE"
rm -rf "$CACHE.old"
