# Everyday commands. Each installs what is missing (Debian packages), then builds with CMake + Ninja.
BUILD ?= build
SAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test test-fast run bench bench-peers fmt lint clean

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

run: build
	@./scripts/tour.sh $(BUILD)/cli/airlock

bench: deps
	cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DAIRLOCK_BUILD_BENCH=ON -DAIRLOCK_BUILD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS) --target airlock_bench
	./build-bench/bench/airlock_bench

# Airlock against CEL (two JS engines) and Cedar (wasm) on the same workloads, in one run.
bench-peers: deps
	BUILD=build-bench JOBS=$(JOBS) CMAKE_FLAGS="$(CMAKE_FLAGS)" ./scripts/bench-peers.sh

fmt: build
	git ls-files '*.cpp' '*.h' | xargs clang-format -i
	$(BUILD)/cli/airlock fmt policies examples

lint: build
	git ls-files 'runtime/*.cpp' 'compiler/*.cpp' 'cli/*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-bench
