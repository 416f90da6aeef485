# economic-sync: one image, run as ROLE=api (webhook server) or ROLE=worker (Temporal worker); see
# docs/production.md. The build stage compiles to dist/ and prebuilds the workflow bundle; the runtime stage
# holds only the compiled code, the migrations and the production dependencies, owned by root and so
# read-only for the `node` user it runs as. The split roles write nothing; run them with a read-only root
# filesystem (docker-compose.yml does). test/prod/image.test.ts runs this stage's command the same way.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts ./scripts
COPY drizzle ./drizzle
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/drizzle ./drizzle
COPY bin ./bin
USER node
EXPOSE 3000
# node itself is PID 1 and handles SIGTERM: HTTP drains, the worker finishes its tasks (src/main.ts).
# A heap limit below 2 GiB keeps V8 from letting garbage grow to four times the live heap before it
# collects (docs/production.md, "7. The service"); the bench runs the service with the same flags.
CMD ["node", "--max-old-space-size=1536", "dist/src/main.js"]
