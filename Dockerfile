# The masksweep image: one image, every command on PATH (masksweep, masksweep-controller,
# masksweep-leaderboard, masksweep-trial). The Helm chart runs the controller, the
# leaderboard and the trial pods from it.
#   CPU (default):  docker build -t ghcr.io/masksweep/masksweep:0.1.0 .
#   GPU trial pods: docker build --target gpu -t ghcr.io/masksweep/masksweep:0.1.0-gpu .
# @tensorflow/tfjs-node-gpu is installed in the GPU image only, not in package.json: its
# install downloads libtensorflow, which development machines and CI cannot do. The
# trial-runner picks it up at start (MASKSWEEP_BACKEND=auto) and reports the choice.

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

# Built on the CUDA image itself: native addons must match its C library.
FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04 AS gpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg python3 make g++ \
 && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages packages
COPY services services
COPY proto proto
COPY k8s k8s
RUN npm ci && npm run build && npm prune --omit=dev \
 && npm install --no-save --allow-scripts=@tensorflow/tfjs-node-gpu @tensorflow/tfjs-node-gpu@4.22.0
ENV MASKSWEEP_BACKEND=auto NODE_ENV=production PATH=/app/node_modules/.bin:$PATH
USER 1000
CMD ["masksweep", "--help"]

FROM node:20-bookworm-slim AS cpu
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production PATH=/app/node_modules/.bin:$PATH
USER 1000
CMD ["masksweep", "--help"]
