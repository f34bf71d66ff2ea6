# get2dial-gateway image: the compiled dist/ on Node.js 24 (the current LTS), production
# dependencies only (no dev, no optional: no TypeScript, tsx, PGlite or pino-pretty), as `node`.
# Build: docker build -t get2dial-gateway .   (docker-compose.yml builds it for every service)
# The same image runs the gateway (default), the one-shot migration and the upstream stub.
# CI tests on Node 20, the floor package.json's engines allows; the image runs the newest LTS.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused until they change.
COPY package.json package-lock.json ./
COPY packages/verifier/package.json ./packages/verifier/package.json
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages/verifier ./packages/verifier
COPY bin ./bin
COPY gateway ./gateway
COPY upstream-stub ./upstream-stub
RUN npm run build && npm prune --omit=dev --omit=optional --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./package.json
COPY --from=build --chown=node:node /app/node_modules ./node_modules
# node_modules/@get2dial/identity-verifier links to the workspace package: its manifest and dist/.
COPY --from=build --chown=node:node /app/packages/verifier/package.json ./packages/verifier/package.json
COPY --from=build --chown=node:node /app/packages/verifier/dist ./packages/verifier/dist
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/bin ./bin
USER node
EXPOSE 8080
# Liveness only (the process answers), with node itself: the slim image has no curl or wget.
# Readiness (/readyz) is the orchestrator's (deploy/kubernetes) or the compose file's.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# bin/gateway.cjs sets UV_THREADPOOL_SIZE before the thread pool starts, then runs dist/gateway/main.js.
# SIGTERM drains (docs/operations.md): give the container a stop grace longer than SHUTDOWN_GRACE_SECONDS.
STOPSIGNAL SIGTERM
CMD ["node", "bin/gateway.cjs"]
