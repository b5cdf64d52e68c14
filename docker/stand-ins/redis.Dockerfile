# Local stand-in for the public image redis:7.2-bookworm (scripts/docker-stand-ins.sh builds it): Debian
# bookworm's redis-server (7.0), run like the official image: WORKDIR and VOLUME /data, and an entrypoint
# that, started as root with `redis-server ...`, hands /data to the redis user and drops to it (gosu).
# Differences: this machine's CA bundle is trusted (as in the node stand-in); the official build turns protected mode off by default; with a password (as in
# docker-compose.yml) protected mode changes nothing.
FROM mat-stand-in/debian:bookworm
COPY ca-bundle.crt /usr/local/share/ca-certificates/host-ca-bundle.crt
COPY ca-bundle.crt /etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server gosu \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data \
 && gosu redis true
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
