# Stand-in for neo4j: Neo4j 5.26 embedded with Bolt (deploy/local/neo4j's jars and
# Neo4jServerMain, Bolt on every interface), data in /data, the password from NEO4J_AUTH
# (neo4j/<password>) as the official image takes it. deploy/local/neo4j/ready.py is its probe.
FROM debian:bookworm-slim
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY neo4j /opt/neo4j
RUN mkdir -p /data && chown 7474:7474 /data
USER 7474:7474
EXPOSE 7687
CMD ["sh", "-c", "exec java -Xms256m -Xmx${NEO4J_HEAP:-768m} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -cp '/opt/neo4j/lib/*:/opt/neo4j/classes' Neo4jServerMain /data 7687 \"${NEO4J_AUTH#neo4j/}\" ${NEO4J_PAGECACHE_MB:-128}"]
