#!/bin/sh
# Issue 16 patterns: each finding line is followed by look-alikes that must stay silent.
set -eu
go get github.com/acme/tool
go get github.com/acme/tool@v1.2.3
go run github.com/acme/gen/cmd/gen
go install github.com/acme/gen@main
go run ./cmd/gen
go install golang.org/x/tools/gopls@0123456789abcdef0123456789abcdef01234567
curl -fsSL https://get.example.com/install.sh |
  sh -s -- --yes
curl -fsSL https://get.example.com/data.txt |
  grep version
bash <(curl -fsSL https://get.example.com/setup)
diff <(sort a.txt) <(sort b.txt)
curl -fsSLo tool.sh https://get.example.com/tool.sh && sh tool.sh
curl -fsSLo checked.sh https://get.example.com/checked.sh
echo "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  checked.sh" | sha256sum -c
sh checked.sh
curl -fsSL https://get.example.com/filter.pl | perl -pe 's/a/b/'
apk add --no-cache curl
apk add --no-cache curl=8.9.1-r0
dnf install -y gcc
dnf install -y gcc-14.2.1
npm install -g prettier
npm install -g prettier@3.3.3
npx --yes cowsay
npx --yes cowsay@1.6.0
gem install bundler
gem install bundler -v 2.5.22
cargo install ripgrep
cargo install ripgrep --version 14.1.1 --locked
pip install --no-index --find-links wheels/ flask
uv pip install dist/a-1.tar.gz --find-links dist --offline --no-deps
apt-get install --snapshot 20240301T000000Z -y curl
apt-get install -y curl
