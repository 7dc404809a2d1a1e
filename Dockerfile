# PM MCP server image: the compiled server on Node 20, nothing of the desktop app.
# tests/deploy/dockerfile.test.ts runs these build steps in a clean folder (no Docker engine
# there) and starts the result; docs/DEPLOY.md says what was and was not verified.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source where no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# No install scripts (the Electron binary, keytar's keychain library): only the server's one
# native module is built.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.base.json tsconfig.server.json ./
COPY server ./server
COPY server-migrations ./server-migrations
RUN npx tsc -p tsconfig.server.json && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin/pm-mcp-server.js ./bin/pm-mcp-server.js
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (SPEC §3.9); give it longer than its 10 s bound: `docker stop -t 15`.
STOPSIGNAL SIGTERM
CMD ["node", "bin/pm-mcp-server.js"]
