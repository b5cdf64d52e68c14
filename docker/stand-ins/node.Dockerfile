# Local stand-in for the public image node:20-bookworm-slim, for machines that cannot pull from Docker Hub
# (scripts/docker-stand-ins.sh builds it; the project's Dockerfiles still say FROM node:20-bookworm-slim).
# Same layout as the official image: Debian bookworm, node/npm/npx under /usr/local, headers in
# /usr/local/include/node (node-gyp), user node (uid 1000), the entrypoint that prepends `node`.
# Differences: the Node binary is this machine's, and the machine's CA bundle is trusted (containers reach
# the npm registry through the machine's TLS-intercepting proxy).
FROM mat-stand-in/debian:bookworm
COPY node /usr/local/bin/node
COPY npm/ /usr/local/lib/node_modules/npm/
COPY include/ /usr/local/include/node/
COPY node-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# update-ca-certificates (run when an image installs ca-certificates) keeps /usr/local/share's certificates.
COPY ca-bundle.crt /usr/local/share/ca-certificates/host-ca-bundle.crt
COPY ca-bundle.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION} NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
