# Stand-in for postgres: Debian's PostgreSQL 15 with the official image's interface
# (POSTGRES_USER/PASSWORD/DB on first start, data in /var/lib/postgresql/data, pg_isready on PATH).
FROM debian:bookworm-slim
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null && \
    rm -rf /var/lib/apt/lists/* && \
    mkdir -p /var/lib/postgresql/data /var/run/postgresql && \
    chown -R postgres: /var/lib/postgresql /var/run/postgresql
COPY postgres-start.sh /usr/local/bin/postgres-start.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
CMD ["postgres-start.sh"]
