# The README's two commands: `make demo` and `make test`. Both install missing Debian
# packages first (scripts/deps.sh), then build with CMake.
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 5
DEMO_DIR ?= demo-data

.PHONY: all build demo test test-build test-valgrind fuzz bench-ingest bench-scale bench-scale-small bench-growth format clean

all: build

build:
	@scripts/deps.sh build
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSONGREC_TESTS=OFF >/dev/null
	@cmake --build build -j $(JOBS)

demo: build
	@scripts/demo.sh build/songrec $(DEMO_DIR)

# Tests: clang with ASan+UBSan, unit + CLI tests, the web page in chromium (tests/browser)
# and a short run of every fuzz target.
test-build:
	@scripts/deps.sh test
	@scripts/deps.sh browser || echo "songrec: chromium could not be installed; the browser test will be skipped" >&2
	@CC=clang cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DSONGREC_SANITIZE=ON \
	   -DSONGREC_FUZZ=ON -DFUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build build-test -j $(JOBS)

test: test-build
	@cd build-test && ctest --output-on-failure -j $(JOBS)

# The unit and CLI tests under valgrind memcheck (issue 8), in a separate non-sanitised
# build (build-valgrind: clang -O1 -g, DWARF 4, which valgrind 3.19 reads): a leak
# (definite or indirect) or an invalid access in any songrec process fails its test.
# The browser, style and fuzz tests are left out. One log per process in
# build-valgrind/valgrind-logs; the ones with errors are shown at the end.
test-valgrind:
	@scripts/deps.sh valgrind
	@CC=clang cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-O1 -g -gdwarf-4" \
	   -DSONGREC_VALGRIND=ON -DSONGREC_FUZZ=OFF -DSONGREC_SANITIZE=OFF >/dev/null
	@cmake --build build-valgrind -j $(JOBS)
	@rm -f build-valgrind/valgrind-logs/*.log
	@cd build-valgrind && ctest --output-on-failure -j $(JOBS) --timeout 3600; rc=$$?; \
	 bad=$$(grep -l -E 'ERROR SUMMARY: [1-9]|(definitely|indirectly) lost: [1-9]' valgrind-logs/*.log 2>/dev/null); \
	 for f in $$bad; do echo "==== $$f"; cat "$$f"; done; \
	 [ $$rc -eq 0 ] && [ -z "$$bad" ]

fuzz:
	@$(MAKE) --no-print-directory test-build FUZZ_SECONDS=$(FUZZ_SECONDS)
	@cd build-test && ctest --output-on-failure -R '^fuzz\.' --timeout 0

# The end-to-end scale run (issue 7): SCALE=1 is all 149 M listens; -small is 1/20.
bench-scale: build
	@SCALE=$${SCALE:-1} NO_BUILD=1 bench/scale.sh

bench-scale-small: build
	@SCALE=0.05 NO_BUILD=1 bench/scale.sh

# The growth curve: the scale run at 1/8, 1/4, 1/2 and full size, plotted (~30 minutes).
bench-growth: build
	@NO_BUILD=1 bench/growth.sh

bench-ingest: build
	@scripts/deps.sh bench
	@bench/ingest.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-test build-valgrind
