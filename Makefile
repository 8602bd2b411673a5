# e2hil — one command for the demo, one for the tests; each installs what it needs.
#   make demo   train SAC on the built-in simulator, export ONNX, evaluate with onnxruntime
#   make test   go vet + the whole test suite (with the external tools it needs)

GO      ?= go
CACHE   := $(CURDIR)/.cache
BIN     := $(CURDIR)/bin

# The code finds onnxruntime and the test tools through these; `make deps` fills the cache.
export E2HIL_ORT_LIB      ?= $(CACHE)/onnxruntime/libonnxruntime.so.1
export E2HIL_NODE_MODULES ?= $(CACHE)/node/node_modules

.PHONY: all deps build test demo vet bench generate clean

all: build

deps:
	@bash .ci/deps.sh

build: deps
	$(GO) build -o $(BIN)/ ./cmd/...

vet: deps
	$(GO) vet ./...

# E2HIL_REQUIRE_TOOLS=1 turns "tool missing" skips into failures: make test has installed them.
test: deps vet
	E2HIL_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 30m ./...

demo: build
	$(BIN)/e2hil demo

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

generate:
	$(GO) generate ./...

clean:
	rm -rf $(BIN) outputs
