# get2dial-gateway image: compiled dist/ on Node 20, no dev dependencies, runs as the `node` user.
# Build: docker build -t get2dial-gateway .   (docker-compose.yml builds it for every service)
# The same image runs the gateway (default), the one-shot migration and the upstream stub.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY gateway ./gateway
COPY upstream-stub ./upstream-stub
COPY config ./config
COPY bench ./bench
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/bin ./bin
USER node
EXPOSE 8080
# Liveness only (the process answers); readiness (/readyz) is the orchestrator's or the compose file's.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# bin/gateway.cjs sets UV_THREADPOOL_SIZE before the thread pool starts, then runs dist/gateway/main.js.
# SIGTERM drains (docs/operations.md): give the container a stop grace longer than SHUTDOWN_GRACE_SECONDS.
STOPSIGNAL SIGTERM
CMD ["node", "bin/gateway.cjs"]
