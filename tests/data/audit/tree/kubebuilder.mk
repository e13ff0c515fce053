# kubebuilder's layout: tools installed by a macro, versions in variables.
LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_TOOLS_VERSION ?= v0.16.4
ENVTEST_VERSION ?= latest
INSTALLER := $(shell curl -fsSL https://get.example.com/install.sh | bash)
GIT_SHA := $(shell git rev-parse HEAD)

.PHONY: controller-gen envtest
controller-gen:
	$(call go-install-tool,$(LOCALBIN)/controller-gen,sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))
envtest:
	$(call go-install-tool,$(LOCALBIN)/setup-envtest,sigs.k8s.io/controller-runtime/tools/setup-envtest,$(ENVTEST_VERSION))

define go-install-tool
@[ -f "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
GOBIN=$(LOCALBIN) go install $${package} ;\
mv $(1) $(1)-$(3) ;\
}
endef
