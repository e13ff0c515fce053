#!/bin/bash
# Issue 29 patterns: each finding line is followed by look-alikes that must stay silent.
set -euo pipefail
CHANGIE_VERSION="${CHANGIE_VERSION:-1.21.0}"
npx -y changie@$CHANGIE_VERSION
export GOLANGCI_VERSION=v2.4.1
go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_VERSION
: "${GOFUMPT:=latest}"
go install mvdan.cc/gofumpt@${GOFUMPT}
readonly TOOL_REF=main
go install example.com/tool@"$TOOL_REF"
go install example.com/other@${OTHER_REF:-v1.0.0}
eval "$(curl -fsSL https://get.example.com/env.sh)"
eval "$(ssh-agent -s)"
gem install --no-document minitest:5.14.2 rubocop:1.0.0
gem install --no-document rubocop
cargo install --git https://github.com/acme/tool
cargo install --git https://github.com/acme/tool --rev 0123456789abcdef0123456789abcdef01234567 --locked
cargo binstall cargo-nextest
cargo binstall cargo-nextest@0.9.72
uv tool install ruff
uv tool install ruff==0.6.9
pipx install pre-commit
pipx install pre-commit==3.8.0
zypper install -y curl
zypper in -y curl=8.6.0
mamba install -y -c conda-forge numpy
mamba install -y -c conda-forge 'numpy==1.26.4'
yarn global add typescript
yarn global add typescript@5.6.2
pnpm add -g typescript
pnpm add -g typescript@5.6.2
npm install express
npm install express@4.21.0
npm install
npm ci
curl -fsSL https://get.example.com/tool.tar.gz | tar -xz -C /usr/local/bin tool
curl -fsSL https://get.example.com/data.tar.gz | tar -xz -C ./data
curl -fsSLo tool.tar.gz https://get.example.com/tool.tar.gz
echo "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  tool.tar.gz" | sha256sum -c
tar -xzf tool.tar.gz -C /usr/local/bin tool
rpm -ivh https://get.example.com/tool-1.2.3.x86_64.rpm
rpm -ivh tool-1.2.3.x86_64.rpm
dnf install -y https://get.example.com/tool-1.2.3.x86_64.rpm
dnf install -y ./tool-1.2.3.x86_64.rpm
rpm -q tool
apk add --no-cache --allow-untrusted /tmp/tool_*.apk
