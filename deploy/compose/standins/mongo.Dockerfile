# Stand-in for mongo: mongo-java-server (deploy/local/mongo: its jars and MongoServerMain), memory
# backend, on 27017. No authentication (see README.md); deploy/local/mongo/ready.py is its probe.
FROM debian:bookworm-slim
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY mongo /opt/mongo
USER 999:999
EXPOSE 27017
CMD ["sh", "-c", "exec java -Xms128m -Xmx${MONGO_HEAP:-1g} -XX:+UseG1GC -cp '/opt/mongo/lib/*:/opt/mongo/classes' MongoServerMain --host 0.0.0.0 --port 27017 --memory --log-level warn"]
