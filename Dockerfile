# The masksweep image: one image, every command on PATH (masksweep, masksweep-controller,
# masksweep-leaderboard, masksweep-trial). The Helm chart runs the controller, the
# leaderboard and the trial pods from it.
#   CPU:  docker build -t ghcr.io/masksweep/masksweep:0.1.0 .
#   GPU:  docker build --build-arg BASE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04 \
#           --build-arg TFJS_NODE=@tensorflow/tfjs-node-gpu@4.22.0 -t ghcr.io/masksweep/masksweep:0.1.0-gpu .
# tfjs-node(-gpu) is installed only into the image: its install downloads libtensorflow, so
# it is no dependency of the repository (the backend selection imports it when present).
ARG BASE=node:20-bookworm-slim

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages packages
COPY services services
COPY proto proto
COPY k8s k8s
RUN npm ci && npm run build && npm prune --omit=dev

FROM ${BASE}
ARG TFJS_NODE=
# A CUDA base image has no Node.js: take it from the build stage.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY --from=build /app /app
RUN if [ -n "$TFJS_NODE" ]; then npm install --no-save "$TFJS_NODE"; fi
ENV NODE_ENV=production PATH=/app/node_modules/.bin:$PATH
USER 1000
ENTRYPOINT []
CMD ["masksweep", "--help"]
