#!/usr/bin/env bash
# Kafka's CLI tools from the cached jars (no kafka-*.sh scripts come with Maven artifacts).
#   tool.sh topics --list                         (kafka-topics.sh)
#   tool.sh console-producer --topic T            (kafka-console-producer.sh)
#   tool.sh console-consumer --topic T --from-beginning --max-messages 1
#   tool.sh consumer-groups --list                (kafka-consumer-groups.sh)
#   tool.sh producer-perf-test --topic T --num-records 100000 --record-size 100 --throughput -1 \
#           --producer-props bootstrap.servers=127.0.0.1:19092
#   tool.sh <fully.qualified.MainClass> ...
# --bootstrap-server defaults to the local stack's broker (except for producer-perf-test).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
# shellcheck source=deploy/local/stack.env
source "$ROOT/deploy/local/stack.env"
tool=${1:?usage: tool.sh TOOL [ARGS...] (see the header of this file)}; shift
bootstrap=(--bootstrap-server "127.0.0.1:$KAFKA_PORT")
case "$tool" in
  topics) class=org.apache.kafka.tools.TopicCommand ;;
  console-producer) class=org.apache.kafka.tools.ConsoleProducer ;;
  console-consumer) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  consumer-groups) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  producer-perf-test) class=org.apache.kafka.tools.ProducerPerformance; bootstrap=() ;;
  *.*) class=$tool; bootstrap=() ;;
  *) echo "tool.sh: unknown tool $tool" >&2; exit 2 ;;
esac
for arg in "$@"; do [ "$arg" = --bootstrap-server ] && bootstrap=(); done
exec java -Xmx256m -Dlog4j2.configurationFile="$HERE/tools-log4j2.properties" \
  -cp "$ROOT/.cache/kafka/lib/*" "$class" "${bootstrap[@]}" "$@"
