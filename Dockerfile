# One image for every service; SERVICE picks which one runs (docker-compose.yml sets it).
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
# Dependencies first, so a source change does not reinstall them. tsx is a runtime dependency:
# the services run from TypeScript sources, the same way as `npm run stack:up`.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
USER node
ENV SERVICE=ingest
# exec replaces the shell: node becomes PID 1 and gets the SIGTERM of `docker stop` itself.
CMD ["sh", "-c", "exec node --import tsx services/$SERVICE/src/main.ts"]
