# The one test command (README.md and .ci/run both use it).
GO ?= go

.PHONY: build test vet fuzz gobench image

build:
	$(GO) build -o bin/dnsward ./cmd/dnsward

# The container image (podman; deploy/container). IMAGE=name:tag VERSION=v1.2.3.
image:
	GO=$(GO) sh deploy/container/build.sh

# deploy/ is a module of its own (Kubernetes dependencies stay out of the
# gateway's); both run here.
vet:
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

test: vet
	$(GO) test -count=1 -timeout 40m ./...
	cd deploy && $(GO) test -count=1 -timeout 10m ./...

# Short fuzzing runs of every parser (FUZZTIME=30s make fuzz).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Go micro-benchmarks beside the code they measure (bench/ holds the scripts
# that compare dnsward with its peers; `dnsward bench` is the load generator).
gobench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
