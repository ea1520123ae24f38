#!/usr/bin/env bash
# Installs the local stack's MongoDB wire-protocol server (mongo-java-server, see README.md) once:
#   maven: the server jars                       -> .cache/mongo/lib
#   javac: MongoServerMain.java (our tiny main)  -> .cache/mongo/classes
# Skipped when .cache/mongo holds a build of the current pom.xml and MongoServerMain.java.
# Start it with start.sh (or the process-compose entry in deploy/local).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
CACHE="$ROOT/.cache/mongo"

digest=$(cat "$HERE/pom.xml" "$HERE/MongoServerMain.java" | sha256sum | cut -c1-16)
stamp="$CACHE/.stamp-$digest"
if [ -f "$stamp" ]; then
  exit 0
fi

echo "installing mongo-java-server into $CACHE (once)"
rm -rf "$CACHE"
mkdir -p "$CACHE"
mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
  -DoutputDirectory="$CACHE/lib"
javac -nowarn -d "$CACHE/classes" -cp "$CACHE/lib/*" "$HERE/MongoServerMain.java"
touch "$stamp"
