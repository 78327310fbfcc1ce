# Everyday commands. Each installs what is missing (Debian packages), then builds with CMake + Ninja.
BUILD ?= build
SAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test test-fast run tour bench bench-peers bench-gateway fmt lint clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# What CI runs: the whole suite, built once with AddressSanitizer and UndefinedBehaviorSanitizer.
test: deps
	cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAIRLOCK_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The suite without sanitizers, for quick iterations.
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Starts the gateway on its embedded default (127.0.0.1:8080, ./airlock-data, policies/) and prints how to
# upload a file with the local token it generated. Ctrl-C stops it gracefully.
run: build
	@bash -c 'set -euo pipefail; mkdir -p airlock-data; rm -f airlock-data/port; \
	  $(BUILD)/cli/airlock serve --port-file airlock-data/port & pid=$$!; \
	  trap "kill -TERM $$pid 2>/dev/null || true" INT TERM; \
	  for i in $$(seq 300); do [ -s airlock-data/port ] && break; kill -0 $$pid 2>/dev/null || exit 1; sleep 0.1; done; \
	  address=$$(cat airlock-data/port); token=$$(cat airlock-data/local-token); \
	  b64() { printf %s "$$1" | base64 -w0; }; \
	  printf "\nAirlock gateway on http://%s (logs: JSON lines above; Ctrl-C stops it)\n" "$$address"; \
	  printf "Local token (user local, written to airlock-data/local-token): %s\n\n" "$$token"; \
	  printf "Upload a file (tus: create, then send the bytes):\n"; \
	  printf "  printf \"site,count\\\\nA81001,12\\\\n\" > counts.csv\n"; \
	  printf "  curl -si -X POST http://%s/files -H \"Authorization: Bearer %s\" -H \"Tus-Resumable: 1.0.0\" \\\\\n" "$$address" "$$token"; \
	  printf "    -H \"Upload-Length: \$$(stat -c%%s counts.csv)\" -H \"Upload-Metadata: filename %s,workspace %s,datasource %s,filetype %s\"\n" \
	    "$$(b64 counts.csv)" "$$(b64 ws1)" "$$(b64 ds1)" "$$(b64 text/csv)"; \
	  printf "  curl -si -X PATCH http://%s/files/ID -H \"Authorization: Bearer %s\" -H \"Tus-Resumable: 1.0.0\" \\\\\n" "$$address" "$$token"; \
	  printf "    -H \"Upload-Offset: 0\" -H \"Content-Type: application/offset+octet-stream\" --data-binary @counts.csv\n"; \
	  printf "  curl -s http://%s/api/v1/transfers/ID/decision -H \"Authorization: Bearer %s\"\n" "$$address" "$$token"; \
	  printf "(ID is the last part of the Location header. Approved files appear in airlock-data/released/ds1/ID/.)\n\n"; \
	  printf "Or open http://%s/ in a browser and sign in with the local token.\n\n" "$$address"; \
	  wait $$pid'

# The policy author's tour: checks and tests policies/, then judges three example transfers.
tour: build
	@./scripts/tour.sh $(BUILD)/cli/airlock

bench: deps
	cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DAIRLOCK_BUILD_BENCH=ON -DAIRLOCK_BUILD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS) --target airlock_bench
	./build-bench/bench/airlock_bench

# Airlock against CEL (two JS engines) and Cedar (wasm) on the same workloads, in one run.
bench-peers: deps
	BUILD=build-bench JOBS=$(JOBS) CMAKE_FLAGS="$(CMAKE_FLAGS)" ./scripts/bench-peers.sh

# The gateway against SHA-256 and nginx, and its peak memory (docs/performance.md, "Gateway").
bench-gateway: deps
	./scripts/bench-gateway.sh

fmt: build
	git ls-files '*.cpp' '*.h' | xargs clang-format -i
	$(BUILD)/cli/airlock fmt policies examples

lint: build
	git ls-files 'runtime/*.cpp' 'compiler/*.cpp' 'cli/*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-bench
