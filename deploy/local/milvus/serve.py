"""Runs Milvus 2.3 standalone (PyPI ``milvus`` 2.3.5) in the foreground, with the stack's ports.

Run by start.sh with the python of .cache/milvus-venv. The package's ``MilvusServer`` would start
the binary as a child and poll it; here its config class only renders ``configs/milvus.yaml``
(ports from the environment, see stack.env) and unpacks the bundled binaries, then this process
*becomes* the server (``os.execve``), so the supervisor's SIGTERM reaches Milvus itself.
Usage: python serve.py DATA_DIR
"""

from __future__ import annotations

import os
import sys
from os.path import join

from milvus import MilvusServerConfig, _initialize_data_files

# Template key of the wrapper's config -> stack.env variable. Every port Milvus binds is set,
# so none falls back to the wrapper's "first free port from N" search.
PORTS = {
    "proxy_port": "MILVUS_PORT",
    "proxy_internal_port": "MILVUS_PROXY_INTERNAL_PORT",
    "etcd_port": "MILVUS_ETCD_PORT",
    "root_coord_port": "MILVUS_ROOT_COORD_PORT",
    "query_coord_port": "MILVUS_QUERY_COORD_PORT",
    "query_node_port": "MILVUS_QUERY_NODE_PORT",
    "index_coord_port": "MILVUS_INDEX_COORD_PORT",
    "index_node_port": "MILVUS_INDEX_NODE_PORT",
    "data_coord_port": "MILVUS_DATA_COORD_PORT",
    "data_node_port": "MILVUS_DATA_NODE_PORT",
}
# Components that register an address in etcd: advertise loopback, not the first non-loopback
# interface Milvus would pick.
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: serve.py DATA_DIR", file=sys.stderr)
        return 2
    ports = {key: int(os.environ[var]) for key, var in PORTS.items()}
    config = MilvusServerConfig(data_dir=argv[0])
    # The steps of config.resolve(), with our settings in between: data and log paths under
    # DATA_DIR, then DATA_DIR/configs/milvus.yaml. Not its port check: it binds each port without
    # SO_REUSEADDR, so a port left in TIME_WAIT by the previous run (a restart within a minute)
    # fails it. stack.sh checks the ports before `up`, and Milvus exits if one is taken.
    config.resolve_storage()
    config.set("system_log_path", "")  # Milvus logs to stdout only: the supervisor keeps the log
    for component in COMPONENTS:
        config.set(f"{component}.ip", "127.0.0.1")
    config.set("log.level", os.environ.get("MILVUS_LOG_LEVEL", "warn"))
    for key, port in ports.items():
        config.configurable_items[key][1] = port
    config.write_config()
    base = config.base_data_dir
    # The embedded etcd ignores etcd_port and listens on localhost:2379 + 2380 unless given a
    # config file of its own (ETCD_CONFIG_PATH): loopback, the stack's ports, one member.
    client = f"http://127.0.0.1:{ports['etcd_port']}"
    peer = f"http://127.0.0.1:{os.environ['MILVUS_ETCD_PEER_PORT']}"
    etcd_config = join(base, "configs", "embedEtcd.yaml")
    with open(etcd_config, "w", encoding="utf-8") as f:
        f.write(
            f"name: default\nlisten-client-urls: {client}\nadvertise-client-urls: {client}\n"
            f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
            f"initial-cluster: default={peer}\n"
            "auto-compaction-mode: revision\nauto-compaction-retention: '1000'\n"
        )
    _initialize_data_files(base)  # unpacks bin/milvus + its libraries once (md5-stamped)

    exe = join(base, "bin", "milvus")
    env = dict(os.environ)
    env.update(
        DEPLOY_MODE="STANDALONE",
        METRICS_PORT=os.environ["MILVUS_METRICS_PORT"],
        ETCD_CONFIG_PATH=etcd_config,  # /healthz and /metrics
        MILVUS_RUN_DIR=join(base, "run"),
        LD_LIBRARY_PATH=":".join(filter(None, [join(base, "bin"), env.get("LD_LIBRARY_PATH")])),
    )
    os.chdir(base)  # Milvus reads configs/milvus.yaml relative to its working directory
    os.execve(exe, [exe, "run", "standalone"], env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
