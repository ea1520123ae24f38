# Stand-in for milvusdb/milvus: Milvus 2.3 standalone from PyPI's `milvus` 2.3.5 (the real server
# binaries), started by deploy/local/milvus/serve.py with the official image's ports (19530, and
# /healthz + /metrics on 9091); embedded etcd, local storage, data in /var/lib/milvus. Settings
# such as COMMON_SECURITY_AUTHORIZATIONENABLED reach Milvus as environment variables; root's
# password is set by milvus-start.sh.
FROM ghcr.io/astral-sh/uv:0.9 AS uv
FROM debian:bookworm-slim
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl libgomp1 libatomic1 >/dev/null && \
    rm -rf /var/lib/apt/lists/*
RUN --mount=from=uv,source=/uv,target=/bin/uv \
    UV_PYTHON_DOWNLOADS=never uv venv -q /opt/milvus && \
    UV_PYTHON_DOWNLOADS=never uv pip install -q --no-cache --python /opt/milvus/bin/python milvus==2.3.5 pymilvus==3.0.2
COPY milvus /opt/milvus/serve
COPY milvus-start.sh /opt/milvus/start.sh
RUN useradd --system --uid 1000 --home-dir /var/lib/milvus milvus && \
    mkdir -p /var/lib/milvus && chown milvus: /var/lib/milvus
ENV MILVUS_PORT=19530 MILVUS_METRICS_PORT=9091 MILVUS_ETCD_PORT=2379 MILVUS_ETCD_PEER_PORT=2380 \
    MILVUS_PROXY_INTERNAL_PORT=19529 MILVUS_ROOT_COORD_PORT=53100 MILVUS_QUERY_COORD_PORT=19531 \
    MILVUS_QUERY_NODE_PORT=21123 MILVUS_INDEX_COORD_PORT=31000 MILVUS_INDEX_NODE_PORT=21121 \
    MILVUS_DATA_COORD_PORT=13333 MILVUS_DATA_NODE_PORT=21124
USER milvus
EXPOSE 19530 9091
CMD ["/opt/milvus/start.sh"]
