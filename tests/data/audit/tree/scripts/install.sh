#!/usr/bin/env bash
set -euo pipefail
pip install black
pip3 install --upgrade ruff
python3 -m pip install --require-hashes -r requirements/dev.txt
curl -fsSL https://sh.rustup.rs | sh -s -- -y
echo "pip install foo"   # a string, not a command
# go install example.com/commented@latest
TOOL_VERSION=v0.9.1
go install example.com/tool@"$TOOL_VERSION"
go install example.com/floating@"$UNSET_VERSION"
sudo apt-get install -y jq
go run golang.org/x/tools/cmd/goimports@latest -w .
go run ./cmd/gen
go install ./...
bash -c "$(curl -fsSL https://example.com/x.sh)"
pip install -r requirements/hashed.txt
pip install -r requirements/loose.txt
