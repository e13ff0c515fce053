#!/bin/sh
# uv's global options before `pip`, and the Windows spelling, install the same way:
uv --directory "$RUNNER_TEMP" pip install numpy
.\uv.exe pip install anyio
uv --no-cache pip install --require-hashes -r requirements.txt
uv --directory x tool run ruff
# Containers run by tag pull whatever the tag points to today; built here, pinned or bare: not judged.
docker run --rm -v "$PWD:/data" cytopia/yamllint:latest .
docker pull ubuntu:24.04
docker build -t myapp:dev .
docker run --rm myapp:dev test
docker run --rm alpine echo hi
docker run --rm alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000 true
podman run "$IMAGE" true
docker compose run web
