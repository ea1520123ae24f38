# Stand-in for redis: Debian's Redis 7; compose.yaml's command (redis-server --requirepass ...)
# and healthcheck (redis-cli with REDISCLI_AUTH) run unchanged.
FROM debian:bookworm-slim
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null && \
    rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis: /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
