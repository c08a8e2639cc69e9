# crmsync — `make help` lists the targets.
GO      ?= go
BIN     ?= bin/crmsync
PKGS    ?= ./...

.PHONY: help build test bench lint migrate demo sim

help: ## show this help
	@grep -E '^[a-z/]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/crmsync
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/sync

test: ## run every test against a real PostgreSQL (TEST_DATABASE_URL, else testcontainers, else 127.0.0.1:5432)
	$(GO) test -count=1 -timeout 30m $(PKGS)

bench: ## run the benchmarks (loader vs raw COPY vs the per-row peer; end-to-end sync; peak RSS of crmsync runs, huge answers, a first sync under rate limits)
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 20m ./loaders/postgres
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m $$($(GO) list $(PKGS) | grep -v '/loaders/postgres$$')

lint: ## gofmt, go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

migrate: build ## apply the migrations to DATABASE_URL
	$(BIN) migrate up

sim: build ## serve the simulated Leeloo and Text Request APIs on 127.0.0.1:8900
	$(BIN) simulate --addr 127.0.0.1:8900

demo: build ## full then incremental sync from the simulators into PostgreSQL, with analyst queries
	$(BIN) demo
