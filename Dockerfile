# syntax=docker/dockerfile:1
# Nereid's image: the build stage has the full toolchain (node-gyp needs python3, make and
# g++ for the native addon); the runtime stage has Node 20 and what `nereid` loads, nothing else.

FROM node:20-bookworm AS build
WORKDIR /build
COPY package.json package-lock.json .npmrc ./
COPY tsconfig.json tsconfig.build.json ./
COPY native ./native
COPY proto ./proto
COPY src ./src
# npm ci builds the native addon (install script) and dist/ (prepare script).
RUN npm ci && npm prune --omit=dev && chmod 0755 dist/cli/main.js

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /opt/nereid
COPY --from=build /build/package.json ./package.json
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
COPY --from=build /build/proto ./proto
# The addons (shared memory; CUDA, which loads without a GPU) and, when the build had nvcc, the CUDA kernels.
COPY --from=build /build/native/build/Release/nereid_* ./native/build/Release/
# KServe's storage initializer (and Nereid's controller) put models at /mnt/models.
RUN ln -s /opt/nereid/dist/cli/main.js /usr/local/bin/nereid \
 && mkdir -p /mnt/models && chown 1000:1000 /mnt/models
# The node image's own unprivileged user; Kubernetes manifests run as 1000 too.
USER 1000:1000
EXPOSE 8000 8001 8002
ENTRYPOINT ["nereid"]
CMD ["serve", "--model-repository=/mnt/models"]
