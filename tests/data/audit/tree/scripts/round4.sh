#!/bin/sh
# uv's global options before `pip`, and the Windows spelling, install the same way:
uv --directory "$RUNNER_TEMP" pip install numpy
.\uv.exe pip install anyio
uv --no-cache pip install --require-hashes -r requirements.txt
uv --directory x tool run ruff
