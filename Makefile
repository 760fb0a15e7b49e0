# kvs: build, check and test. `make test` is what CI runs (see .ci/run).
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
export CGO_ENABLED ?= 0

.PHONY: all build deps check test test-go demo serve bench cross

all: build

build:
	$(GO) build -o bin/kvs ./cmd/kvs

deps:
	bash scripts/deps.sh

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

cross:
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./...
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build -o /dev/null ./...

test-go:
	$(GO) test -count=1 -timeout 45m ./...

# The whole suite on a fresh machine: installs the real peers, checks style, runs every test.
test: deps check cross test-go

serve: build
	./bin/kvs serve --listen 127.0.0.1:4567 --data-dir ./kvs-data

# The main job on the built-in local endpoint: stream the sample clip into it.
demo: build
	./bin/kvs demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The producer side against ffmpeg, curl and the disk, in one run (BENCHMARKS.md, rows P1 and U1-U3).
.PHONY: bench-producer
bench-producer:
	bash bench/producer.sh
