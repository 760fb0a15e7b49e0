# kvs: build, check and test. `make test` is what CI runs (see .ci/run).
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
export CGO_ENABLED ?= 0

.PHONY: all build install deps check test test-go demo serve bench cross

all: build

# kvs --version names the commit and its date (not the time of the build,
# so that two builds of one commit are the same bytes).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(shell git rev-parse HEAD 2>/dev/null) \
	-X main.commitDate=$(shell git log -1 --format=%cI 2>/dev/null)

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/kvs ./cmd/kvs

# Puts kvs on PATH (PREFIX=/usr/local by default; DESTDIR for packaging).
PREFIX ?= /usr/local
install: build
	install -D -m 0755 bin/kvs $(DESTDIR)$(PREFIX)/bin/kvs

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
