# gproc: make deps | build | test | run | bench | proto | lint | clean
# Works on a fresh Debian machine as root: `make test` installs what it needs first.

SHELL := /bin/bash
DEBIAN_PACKAGES := fuse libfuse2 procps psmisc python3-psutil util-linux iproute2 openssh-server openssh-client
TSC := node_modules/.bin/tsc

.PHONY: deps debian-deps build test run bench proto lint clean

deps: debian-deps node_modules/.package-lock.json

# Installs the Debian packages that are missing (needs root and apt).
debian-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

build: deps
	$(TSC) -p tsconfig.json
	node scripts/copy-assets.js

lint: deps
	$(TSC) -p tsconfig.json --noEmit
	$(TSC) -p test/tsconfig.json --noEmit

test: build
	node_modules/.bin/tap

run: build
	node dist/cli/main.js up

bench: build
	node dist/bench/main.js

# Regenerates the TypeScript types of the wire contract (never edit src/proto/gen by hand).
proto: deps
	rm -rf src/proto/gen
	node_modules/.bin/proto-loader-gen-types --longs=Number --enums=String --defaults --oneofs \
	  --includeComments --grpcLib=@grpc/grpc-js -O src/proto/gen src/proto/gproc.proto

clean:
	rm -rf dist .tap
