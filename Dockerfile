# One image for every service; SERVICE picks which one runs (docker-compose.yml sets it).
# Two stages: the build stage installs and patches the dependencies and compiles the TypeScript
# (npm run build: services/, shared/ and infra/ into dist/), then prunes the development ones; the
# runtime image holds only the production dependencies, dist/ and the SQL migrations, and runs
# plain node: no tsx, no TypeScript, no compile at start.

FROM node:20-slim AS build
WORKDIR /app
# Dependencies first, so a source change does not reinstall them.
# npm ci's postinstall applies patches/ to node_modules (patch-package; patches/README.md).
COPY package.json package-lock.json ./
COPY patches patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared shared
COPY services services
COPY infra infra
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The production dependencies as the build stage installed and patched them (patch-package is a
# development dependency, so a second `npm ci --omit=dev` here could not patch them).
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# infra/migrate.js reads the migrations from the sources (infra/paths.ts): the build does not copy them.
COPY infra/migrations infra/migrations
# The projector's live page (GET /) is a static file read from the sources the same way.
COPY services/projector/page services/projector/page
USER node
ENV SERVICE=ingest
# Memory (issue 8; why, in infra/build.ts serviceArgs and SERVICE_ENV, which the stack uses: keep
# them in step): malloc maps big buffers and keeps two arenas; V8's young generation is capped at
# 4 MB a semi-space (not 16), which costs no measurable rate. Smaller nurseries (1 MB) cost the
# aggregator 20-40 % of its rate; NODE_OPTIONS=--max-semi-space-size=1 makes that trade. The
# aggregator also collects its old space once it has grown half past what the last collection kept
# (--heap-growing-percent=50, infra/build.ts SERVICE_NODE_FLAGS; V8 refuses it in NODE_OPTIONS).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
# exec replaces the shell: node becomes PID 1 and gets the SIGTERM of `docker stop` itself.
CMD ["sh", "-c", "case \"$SERVICE\" in aggregator) flags=--heap-growing-percent=50 ;; *) flags= ;; esac; exec node --max-semi-space-size=4 $flags dist/services/$SERVICE/src/main.js"]
