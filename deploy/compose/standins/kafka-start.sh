#!/bin/sh
# deploy/local/kafka's server.properties, rendered for a container: the client listener on every
# interface, advertised under the compose service name (KAFKA_ADVERTISED_HOST, default kafka).
set -eu
DATA=/var/lib/kafka/data
PROPS=/var/lib/kafka/server.properties
LOG_CONFIG=-Dlog4j2.configurationFile=/opt/kafka/log4j2.properties
sed -e "s|@KAFKA_PORT@|9092|g" -e "s|@KAFKA_CONTROLLER_PORT@|9093|g" -e "s|@DATA_DIR@|$DATA|g" \
  /opt/kafka/server.properties.template >"$PROPS"
cat >>"$PROPS" <<PROPS
# the container's listeners (a later key wins)
listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST:-kafka}:9092
PROPS
if [ ! -f "$DATA/meta.properties" ]; then
  id=$(java -cp '/opt/kafka/lib/*' "$LOG_CONFIG" kafka.tools.StorageTool random-uuid | tail -1)
  java -cp '/opt/kafka/lib/*' "$LOG_CONFIG" kafka.tools.StorageTool format -t "$id" -c "$PROPS" \
    --ignore-formatted
fi
exec java -Xms"${KAFKA_HEAP:-512m}" -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseG1GC -Djava.awt.headless=true \
  "$LOG_CONFIG" -cp '/opt/kafka/lib/*' kafka.Kafka "$PROPS"
