# rebuild — see README.md. Every target works offline once modules are cached.
GO      ?= go
BIN     ?= bin/rebuild
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test vet lint bench demo demo-pipeline clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/rebuild

vet:
	$(GO) vet ./...

# Every test, with the race detector. Tests that need nix, dot, promtool,
# mandoc or bash-completion run when those are installed; .ci/run installs them.
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

# The whole graph in a throwaway sandbox (needs nix: apt-get install nix-bin).
demo: build
	./$(BIN) demo

# The example pipeline of tasks of your own (examples/demo.toml); no Nix needed.
demo-pipeline: build
	./scripts/demo.sh $(BIN)

clean:
	rm -rf bin

# vendorHash of nix/package.nix, computed as buildGoModule does: the NAR
# hash of what `go mod vendor` writes. Rewrites the line in nix/package.nix
# and prints the value. Run it after every go.mod or go.sum change (and
# after importing a package of a new module): `go test ./cmd/rebuild`
# fails while the value is stale. Needs nix (Debian: nix-bin); offline.
.PHONY: vendor-hash
vendor-hash:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(GO) mod vendor -o "$$tmp/vendor" && \
	hash=$$(nix --extra-experimental-features nix-command hash path --type sha256 --sri "$$tmp/vendor") && \
	sed -i "s|^  vendorHash = \".*\";|  vendorHash = \"$$hash\";|" nix/package.nix && \
	grep -q "vendorHash = \"$$hash\";" nix/package.nix && \
	echo "vendorHash = \"$$hash\"; (written to nix/package.nix)"
