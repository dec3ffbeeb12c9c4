# rebuild — see README.md. Every target works offline once modules are cached.
GO      ?= go
BIN     ?= bin/rebuild
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test vet lint bench demo clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/rebuild

vet:
	$(GO) vet ./...

# Every test, with the race detector. Tests that need nix, tmux or dot run
# when those are installed; .ci/run installs them.
test: vet
	$(GO) test -race -timeout 40m ./...

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed: skipped"; fi

# Scheduler overhead per task (go test -bench) and whole-run figures
# (bench/: makespan, critical path, sequential sum side by side).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./schedule/ ./tasks/...
	$(GO) run ./bench

demo: build
	./scripts/demo.sh $(BIN)

clean:
	rm -rf bin
