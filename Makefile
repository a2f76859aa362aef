# The one test command (README.md and .ci/run both use it).
GO ?= go

.PHONY: build test vet fuzz gobench

build:
	$(GO) build -o bin/dnsward ./cmd/dnsward

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -count=1 -timeout 40m ./...

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
