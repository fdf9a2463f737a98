# gproc: make deps | build | lint | format | test | run | bench | proto | deb | clean
# Works on a fresh Debian machine as root: `make test` installs what it needs first.

SHELL := /bin/bash
# What the tests need (sysstat for pidstat, htop run in tmux: test/tools-diff.test.ts); the
# benchmarks also compare with ssh.
DEBIAN_PACKAGES := fuse libfuse2 procps psmisc python3-psutil util-linux openssl iproute2 nftables prometheus etcd-server etcd-client sysstat htop tmux
BENCH_PACKAGES := openssh-server openssh-client pdsh
# `make deb` strips the native helpers (binutils); the package's test (test/deb.test.ts) also
# checks it with lintian, its pages with mandoc and man, and boots it in a container:
# systemd-nspawn (systemd-container, which brings systemd) on a Debian tree from mmdebstrap.
DEB_PACKAGES := binutils gzip
DEB_TEST_PACKAGES := $(DEB_PACKAGES) lintian mandoc man-db systemd-container mmdebstrap
TSC := node_modules/.bin/tsc

.PHONY: deps debian-deps install-packages build lint format test soak run bench bench-scale bench-big proto clean deb

deps: debian-deps node_modules/.package-lock.json

# Installs the Debian packages that are missing (needs root and apt).
debian-deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEBIAN_PACKAGES)"

install-packages:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# A worktree whose node_modules is a symlink to another checkout's must not run npm ci:
# npm empties the directory the link points to (breaking that checkout, and any test run
# there) and replaces the link with a copy. Such a worktree uses the other's packages.
node_modules/.package-lock.json: package.json package-lock.json
	@if [ -L node_modules ]; then \
	  echo "node_modules is a symlink to $$(readlink node_modules): not running npm ci through it"; \
	else npm ci --no-audit --no-fund; fi

# Type-check everything, then bundle the command, the snapshot reader thread and the
# benchmarks into dist/ (one file each: the CLI starts in half the time; see
# native-notes/performance.md); fuse-native stays outside: it loads a native addon; so does etcd3, which reads its .proto files from its own directory.
# gproc-kill.so lets tools under `gproc exec` signal global PIDs (src/native/gproc-kill.c).
# peercred.node tells the agent who is at the other end of a Unix socket (src/native/peercred.c).
# gproc-exec, set-user-ID root, gives any user's `gproc exec` the view as /proc
# (src/native/gproc-exec.c): it must be built by root.
# gproc-shim supervises each process the agent starts, so it outlives the agent
# (src/native/gproc-shim.c); static, so that one costs under 1 MiB of memory.
NATIVE_CFLAGS := -O2 -Wall -Wextra -Werror
ESBUILD := node_modules/.bin/esbuild --bundle --platform=node --target=node20 --log-level=warning --external:fuse-native --external:etcd3
build: deps
	$(TSC) -p tsconfig.json
	$(TSC) -p test/tsconfig.json
	$(ESBUILD) src/cli/main.ts --outfile=dist/gproc.js
	$(ESBUILD) src/agent/read-worker.ts --outfile=dist/read-worker.js
	$(ESBUILD) src/liveness/heartbeat-worker.ts --outfile=dist/heartbeat-worker.js
	$(ESBUILD) src/bench/main.ts --outfile=dist/bench.js
	$(CC) -O2 -Wall -Wextra -shared -fPIC -o dist/gproc-kill.so src/native/gproc-kill.c -ldl
	$(CC) $(NATIVE_CFLAGS) -shared -fPIC -I/usr/include/node -o dist/peercred.node src/native/peercred.c
	$(CC) $(NATIVE_CFLAGS) -o dist/gproc-exec src/native/gproc-exec.c
	$(CC) $(NATIVE_CFLAGS) -static -o dist/gproc-shim src/native/gproc-shim.c
	chown root:root dist/gproc-exec
	chmod 4755 dist/gproc-exec
	chmod +x dist/gproc.js


# typescript-eslint's type-checked rules (eslint.config.mjs) and the formatter's check;
# .ci/run runs this before the tests. `make format` rewrites the tree in place.
lint: deps
	node_modules/.bin/eslint src test
	node_modules/.bin/prettier --check src test eslint.config.mjs

format: deps
	node_modules/.bin/prettier --write src test eslint.config.mjs

test: build
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_TEST_PACKAGES)"
	node_modules/.bin/tap

# The Debian package gproc_<version>_<arch>.deb, here (spec section 8; packaging/deb/build.sh
# says what goes where). Its man pages and bash completion are written from the command's
# own description (src/cli/man.ts).
deb: build
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES)"
	$(ESBUILD) src/cli/man.ts --outfile=build/docs.js
	packaging/deb/build.sh .

# The soak test of `make test`, for ten minutes.
soak: build
	GPROC_SOAK_SECONDS=600 node_modules/.bin/tap --timeout=1200 test/soak.test.ts

run: build
	node dist/gproc.js up

# dist/fuse-floor (src/bench/fuse-floor.c, a test tool: not in the package) is the floor the
# bench measures the view against; it links the system's libfuse2, with the libfuse 2.9
# headers fuse-native's own dependency carries (no libfuse-dev needed, nothing downloaded).
FUSE_INCLUDE := node_modules/fuse-shared-library-linux/libfuse/include
# `make bench BENCH="floor ps"` runs only the measures named (src/bench/main.ts lists them).
bench: build
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(BENCH_PACKAGES)"
	$(CC) $(NATIVE_CFLAGS) -D_FILE_OFFSET_BITS=64 -I$(FUSE_INCLUDE) -o dist/fuse-floor src/bench/fuse-floor.c -l:libfuse.so.2 -lpthread
	node dist/bench.js $(BENCH)

# How the costs grow with nodes: 1, 4, 16 and 64 simulated nodes (src/bench/scale.ts).
bench-scale: build
	node dist/bench.js scale

# Issue 12's acceptance run: 8 nodes x 2,000 processes started while the view is read (src/bench/big.ts).
bench-big: build
	node dist/bench.js big

# Regenerates from the wire contract its protobufjs descriptor and its TypeScript types
# (never edit src/proto/gproc.json or src/proto/gen by hand).
proto: deps
	rm -rf src/proto/gen
	node_modules/.bin/proto-loader-gen-types --longs=Number --enums=String --defaults --oneofs \
	  --includeComments --grpcLib=@grpc/grpc-js -O src/proto/gen src/proto/gproc.proto
	node -e 'const p = require("protobufjs"); const d = p.loadSync("src/proto/gproc.proto").toJSON();'\
'require("fs").writeFileSync("src/proto/gproc.json", JSON.stringify(d, null, 1) + "\n")'

clean:
	rm -rf dist .tap build gproc_*.deb
