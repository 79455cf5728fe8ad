# SIPMan — the two commands a newcomer needs are `make run` and `make test`.
# Everything else is here for developers.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=
# `make run` captures live on IFACE (default: the interface of the default
# route, else any) into DB and serves the web GUI on LISTEN; `make run
# PCAP=file` replays a capture instead. ADMIN_PASSWORD_FILE: the web admin's
# password on a first start (else sipman prints a random one, once).
PCAP       ?=
IFACE      ?= $(or $(shell ip route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($$i == "dev") { print $$(i+1); exit }}'),any)
DB         ?= $(CURDIR)/sipman.db
LISTEN     ?= 127.0.0.1:8080
ADMIN_PASSWORD_FILE ?=
RUN_WEB_FLAGS = --listen $(LISTEN) $(if $(ADMIN_PASSWORD_FILE),--admin-password-file $(ADMIN_PASSWORD_FILE))
FUZZ_SECONDS ?= 600

.PHONY: all bootstrap build run test unit-test integration-test asan-test bench fuzz fuzz-run clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
ifneq ($(PCAP),)
	@echo "sipman: replaying $(PCAP) into $(DB); then the web GUI keeps serving it until Ctrl-C"
else
	@echo "sipman: capturing SIP live on $(IFACE) (set IFACE=... to change); calls and messages go to $(DB);"
	@echo "        Ctrl-C stops and stores the calls still open"
endif
	@echo "sipman: web GUI on http://$(LISTEN)/ (set LISTEN=ADDR:PORT to change), user admin."
	@echo "        The first start prints admin's password below, once only: keep it. To reset it,"
	@echo "        sqlite3 $(DB) 'DELETE FROM web_users' and make run again (a new one is printed,"
	@echo "        or set ADMIN_PASSWORD_FILE=FILE to choose it)."
ifneq ($(PCAP),)
	$(BUILD)/sipman run --pcap $(PCAP) --db $(DB) $(RUN_WEB_FLAGS)
else
	$(BUILD)/sipman run -i $(IFACE) --db $(DB) $(RUN_WEB_FLAGS)
endif

# The whole suite: unit and integration tests on the optimised build, then
# the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 1500
	$(MAKE) asan-test

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -L unit -j $(JOBS)

integration-test: build
	cd $(BUILD) && ctest --output-on-failure -L integration

asan-test: bootstrap
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIPMAN_SANITIZE=ON -DSIPMAN_BENCH=OFF \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
	  ctest --output-on-failure -L unit -j $(JOBS)
	# Every capture at hand and a mutant of each, through messages (TSV and
	# JSON) and analyze, under ASan + UBSan: no report, crash or hang.
	scripts/mutation-campaign --sipman $(ASAN_BUILD)/sipman --mutants 1

bench: build
	$(BUILD)/bench/sipman_bench --benchmark_counters_tabular=true
	bench/vs-peers --sipman $(BUILD)/sipman

# Builds the libFuzzer targets (clang) into $(FUZZ_BUILD)/fuzz/.
fuzz: bootstrap
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPMAN_FUZZ=ON -DSIPMAN_TESTS=OFF \
	  -DSIPMAN_BENCH=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@echo "fuzz targets: $$(ls $(FUZZ_BUILD)/fuzz/fuzz_* | tr '\n' ' ')"

# Runs every fuzz target for FUZZ_SECONDS from its seed corpus.
fuzz-run: fuzz
	scripts/run-fuzzers $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
