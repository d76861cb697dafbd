# Mandate broker image: compiled in a builder stage, run as the non-root `node` user with production dependencies only.

# ---- build: full dependencies, TypeScript -> dist/ ----
FROM node:24-slim AS builder
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile names the SDK workspace (packages/sdk): npm ci needs its manifest, not its sources.
COPY packages/sdk/package.json ./packages/sdk/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime ----
FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    MANDATE_HOST=0.0.0.0 \
    MANDATE_PORT=8080
WORKDIR /app
RUN chown node:node /app
USER node
COPY --chown=node:node package.json package-lock.json ./
COPY --chown=node:node packages/sdk/package.json ./packages/sdk/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=builder --chown=node:node /app/dist ./dist
COPY --chown=node:node config ./config
COPY --chown=node:node bin ./bin
EXPOSE 8080
# Liveness only; use GET /readyz for readiness in an orchestrator. The worker service disables it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MANDATE_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/cli.js", "start"]
