deps:
	uv pip install --require-hashes -r requirements.txt
	go install golang.org/x/lint/golint
GOFUMPT_VERSION ?= v0.6.0
LINT_VERSION := latest
pinned:
	go install mvdan.cc/gofumpt@$(GOFUMPT_VERSION)
floating:
	go install golang.org/x/tools/cmd/goimports@${LINT_VERSION}
