# kestra-authz: Envoy ext_authz service for Kestra.
# Build: docker build -t kestra-authz .   Run: see docker-compose.yml.

FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# --ignore-scripts: no dependency runs code at install; we build explicitly below.
RUN npm ci --ignore-scripts
COPY proto ./proto
COPY src ./src
COPY bin ./bin
RUN npm run build && npm prune --omit=dev

FROM node:22-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/bin ./bin
# Envoy's protos are read at run time from node_modules; proto/ lists their include dirs.
COPY --from=build /app/proto ./proto
# Writable home for the Basic-auth users file (mount a volume here).
RUN mkdir -p /var/lib/kestra-authz /etc/kestra-authz && chown node:node /var/lib/kestra-authz
USER node
# Cap the V8 heap (see deploy/k8s/deployment.yaml and bench/README.md, "Memory"):
# RSS stays ~160 MB even after a million distinct tokens. Override with NODE_OPTIONS.
ENV NODE_OPTIONS=--max-old-space-size=160
# 9191 gRPC (ext_authz, health), 8080 HTTP (OIDC, forward-auth), 8081 management (metrics, health)
EXPOSE 9191 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8081/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# One worker process per core the container may use (os.availableParallelism(): follows --cpuset-cpus,
# not a --cpus quota); with a quota, append "--workers N" (README "Worker processes").
CMD ["node", "bin/kestra-authz.js", "serve", "--config", "/etc/kestra-authz/config.yaml"]
