# Stand-in for apache/kafka: one KRaft node (broker + controller) from the Maven Central jars of
# deploy/local/kafka, with its server.properties template, log config and readiness probe.
FROM debian:bookworm-slim
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY kafka /opt/kafka
COPY kafka-start.sh /opt/kafka/start.sh
RUN useradd --system --uid 1000 --home-dir /var/lib/kafka kafka && \
    mkdir -p /var/lib/kafka/data && chown -R kafka: /var/lib/kafka
USER kafka
EXPOSE 9092
CMD ["/opt/kafka/start.sh"]
