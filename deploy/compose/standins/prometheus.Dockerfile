# Stand-in for prom/prometheus: Debian's Prometheus 2.42, entrypoint /bin/prometheus as in the
# official image (compose.yaml's command is its arguments), wget for compose.yaml's healthcheck.
FROM debian:bookworm-slim
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus wget >/dev/null && \
    rm -rf /var/lib/apt/lists/* && \
    mkdir -p /prometheus && chown 65534:65534 /prometheus
USER 65534:65534
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
