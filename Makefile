# fundwatch: one plain GNU Makefile.
#
#   make            fundwatch-agent, fundwatch-server, libfwcommon.a
#   make check      every test; ends with "N passed, N failed"
#   make asan       the same under ASan+UBSan with clang
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS each (default 60)
#   make lint       cppcheck (and clang-tidy if present)
#   make bench      the benchmark figures
#   make deps       install the Debian 12 packages everything needs
#   make demo       run what exists end to end on the embedded defaults
#
# Objects go to $(B) (build/, build-asan/, build-fuzz/).  main.o of each
# binary stays out of its library so that tests link everything else.

CC	?= gcc
B	?= build
OPT	?= -O2
SAN	?=
FUZZ_SECONDS ?= 60

WARN	= -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	  -Wmissing-prototypes -Wvla
CFLAGS	?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -I common \
	  $(shell $(PKG_CONFIG) --cflags $(PKGS_BUILD) 2>/dev/null)

PKG_CONFIG ?= pkg-config
PKGS_COMMON = libcrypto zlib jansson inih
PKGS_AGENT  = $(PKGS_COMMON) sqlite3 libcurl
PKGS_SERVER = $(PKGS_COMMON) sqlite3 libssl libevent libevent_openssl
PKGS_ALL    = $(PKGS_COMMON) sqlite3 libcurl libssl libevent libevent_openssl
PKGS_BUILD ?= $(PKGS_ALL)
LIBS_COMMON = $(shell $(PKG_CONFIG) --libs $(PKGS_COMMON))
# libcurl is loaded at run time by agent/net.c (dlopen), not linked.
LIBS_AGENT  = $(shell $(PKG_CONFIG) --libs $(filter-out libcurl,$(PKGS_AGENT)))
LIBS_SERVER = $(shell $(PKG_CONFIG) --libs $(PKGS_SERVER))
LIBS_TEST  ?= $(shell $(PKG_CONFIG) --libs $(PKGS_ALL) cmocka) -lpthread

COMMON_SRC = $(sort $(wildcard common/*.c))
AGENT_SRC  = $(filter-out agent/main.c,$(sort $(wildcard agent/*.c)))
SERVER_SRC = $(filter-out server/main.c,$(sort $(wildcard server/*.c)))
UNIT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
# Tests of the server (they include server.h): not built for the device.
UNIT_SERVER_SRC = $(shell grep -l '^#include.*server\.h"' $(UNIT_SRC) 2>/dev/null)
TOOL_SRC   = $(sort $(wildcard tests/tools/*.c))
FAULT_SRC  = $(sort $(wildcard tests/fault/*.c))
BENCH_SRC  = $(sort $(wildcard tests/bench/*.c))
FUZZ_SRC   = $(sort $(wildcard tests/fuzz/fuzz_*.c))

COMMON_OBJ = $(COMMON_SRC:%.c=$(B)/%.o)
AGENT_OBJ  = $(AGENT_SRC:%.c=$(B)/%.o)
SERVER_OBJ = $(SERVER_SRC:%.c=$(B)/%.o)

LIBCOMMON  = $(B)/libfwcommon.a
LIBAGENT   = $(B)/libfwagent.a
LIBSERVER  = $(B)/libfwserver.a
AGENT_BIN  = $(B)/fundwatch-agent
SERVER_BIN = $(B)/fundwatch-server
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
DEVICE_UNIT_BIN = $(filter-out $(UNIT_SERVER_SRC:tests/unit/%.c=$(B)/tests/%),$(UNIT_BIN))
TEST_LIBS ?= $(LIBSERVER) $(LIBAGENT) $(LIBCOMMON)
TOOL_BIN   = $(TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%)
FAULT_BIN  = $(FAULT_SRC:tests/fault/%.c=$(B)/tests/fault/%)
BENCH_BIN  = $(BENCH_SRC:tests/bench/%.c=$(B)/tests/bench/%)

.PHONY: all check asan fuzz lint bench deps demo clean vectors cross cross-check \
	device device-check torture fuzz-long valgrind coverage
.DELETE_ON_ERROR:

all: $(LIBCOMMON) $(AGENT_BIN) $(SERVER_BIN)

$(B)/%.o: %.c $(wildcard common/*.h agent/*.h server/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
# The unit tests also depend on their own headers (tests/unit/tmpdir.h).
$(B)/tests/unit/%.o: tests/unit/%.c $(wildcard common/*.h agent/*.h server/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(LIBAGENT): $(AGENT_OBJ) $(B)/agent/.dir
	@rm -f $@
	ar rcs $@ $(AGENT_OBJ) $(B)/agent/.dir
$(LIBSERVER): $(SERVER_OBJ) $(B)/server/.dir
	@rm -f $@
	ar rcs $@ $(SERVER_OBJ) $(B)/server/.dir

# An empty member keeps ar happy while a binary has no sources but main.c.
$(B)/%/.dir:
	@mkdir -p $(dir $@)
	@echo 'typedef int fw_empty_unit;' > $(B)/$*/empty.c
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $(B)/$*/empty.c

$(AGENT_BIN): $(B)/agent/main.o $(LIBAGENT) $(LIBCOMMON)
	$(CC) $(SAN) -o $@ $^ $(LIBS_AGENT)
$(SERVER_BIN): $(B)/server/main.o $(LIBSERVER) $(LIBCOMMON)
	$(CC) $(SAN) -o $@ $^ $(LIBS_SERVER)

$(B)/tests/%: $(B)/tests/unit/%.o $(TEST_LIBS)
	$(CC) $(SAN) -o $@ $^ $(LIBS_TEST)
$(B)/tests/tools/%: $(B)/tests/tools/%.o $(TEST_LIBS)
	$(CC) $(SAN) -o $@ $^ $(LIBS_TEST)

# The fault-injection helpers (a FUSE file system that loses unsynced
# writes) link libfuse3; the benchmark's load client links libcurl.
FUSE_CFLAGS = $(shell $(PKG_CONFIG) --cflags fuse3 2>/dev/null)
FUSE_LIBS   = $(shell $(PKG_CONFIG) --libs fuse3 2>/dev/null)
$(B)/tests/fault/%: tests/fault/%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS) -o $@ $^ $(FUSE_LIBS) $(LIBS_TEST)
$(B)/tests/bench/%: tests/bench/%.c $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS_TEST)

check: all $(UNIT_BIN) $(TOOL_BIN) $(FAULT_BIN)
	@B=$(B) FW_SANITIZED="$(findstring address,$(SAN))" sh tests/run-tests.sh

# The long fault loops (200 kills, 200 power cuts, 50 MiB at 256 kbit/s).
torture: all $(UNIT_BIN) $(TOOL_BIN) $(FAULT_BIN)
	@B=$(B) FW_TORTURE=1 sh tests/run-tests.sh

# Figures, never a pass/fail on a timing: BENCH=part runs one part.
bench: all $(TOOL_BIN) $(BENCH_BIN)
	@B=$(B) sh tests/bench/run.sh $(BENCH)

fuzz-long:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=3600

# Under valgrind, zero errors and zero definite or indirect leaks: every
# unit test, and the real servers and agents the VALGRIND_SCRIPTS start
# (run-tests.sh gives each process its own report).  test_age_rss streams
# 32 MiB there instead of 256 (its RSS bound is not judged under valgrind).
VALGRIND_CMD = valgrind --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --track-fds=no
VALGRIND_SCRIPTS ?= server_ingest agent_sync casework office casework_e2e
valgrind: all $(UNIT_BIN) $(TOOL_BIN)
	@B=$(B) FW_EMULATED=valgrind FW_AGE_RSS_MIB=32 RUNNER="$(VALGRIND_CMD) -q" \
	    VALGRIND="$(VALGRIND_CMD)" SCRIPTS="$(VALGRIND_SCRIPTS)" sh tests/run-tests.sh

# Line and branch coverage (gcovr) of common/, agent/, server/ by make check
# (this run's counts alone: the .gcda files of an earlier run go first).
coverage:
	@find build-cov -name '*.gcda' -delete 2>/dev/null || true
	@$(MAKE) --no-print-directory B=build-cov OPT=-O0 SAN=--coverage check
	gcovr -r . --object-directory build-cov --filter 'common/' --filter 'agent/' \
	    --filter 'server/' --branches --print-summary -o build-cov/coverage.txt
	@cat build-cov/coverage.txt | tail -n 25
	@for d in common agent server; do \
	    printf '%-7s %s\n' "$$d/" "$$(gcovr -r . --object-directory build-cov --filter "$$d/" \
	        --branches --print-summary -o /dev/null | grep -E '^(lines|branches)' | tr '\n' ' ')"; \
	done

asan:
	@$(MAKE) --no-print-directory check B=build-asan CC=clang OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# The device side for arm64 (Raspberry Pi OS 64-bit): common/ and the agent
# only (libevent is the server's alone), with Debian's multiarch :arm64
# libraries; cross-check runs the device's unit tests under qemu-user.
CROSS ?= aarch64-linux-gnu
CROSS_ENV = B=build-$(CROSS) CC=$(CROSS)-gcc \
	PKG_CONFIG="env PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS)/pkgconfig:/usr/share/pkgconfig pkg-config" \
	PKGS_BUILD="$(PKGS_AGENT)" TEST_LIBS='$$(LIBAGENT) $$(LIBCOMMON)' \
	LIBS_TEST='$$(shell $(PKG_CONFIG) --libs $$(PKGS_AGENT) cmocka) -lpthread'
device: $(LIBCOMMON) $(AGENT_BIN) $(DEVICE_UNIT_BIN)
device-check: device
	@B=$(B) UNIT_ONLY=1 RUNNER="$(RUNNER)" FW_EMULATED="$(EMULATED)" sh tests/run-tests.sh
cross:
	@$(MAKE) --no-print-directory $(CROSS_ENV) device
	@file build-$(CROSS)/fundwatch-agent
cross-check:
	@$(MAKE) --no-print-directory $(CROSS_ENV) \
	    RUNNER="qemu-$(firstword $(subst -, ,$(CROSS))) -L /usr/$(CROSS)" \
	    EMULATED=qemu-user device-check

# libFuzzer: each harness links the common sources built for fuzzing.  The
# corpus in the tree is read, never written: new inputs go to a temp folder.
FUZZ_FLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
fuzz:
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang OPT=-O1 SAN="$(FUZZ_FLAGS)" \
	    build-fuzz/libfwcommon.a build-fuzz/libfwserver.a
	@set -e; for src in $(FUZZ_SRC); do \
	    name=$$(basename $$src .c); \
	    libs="build-fuzz/libfwcommon.a $(LIBS_COMMON)"; \
	    if grep -q '^#include.*server\.h"' $$src; then \
	        libs="build-fuzz/libfwserver.a build-fuzz/libfwcommon.a $(LIBS_SERVER)"; \
	    fi; \
	    clang -std=c11 -D_GNU_SOURCE -O1 -g -I common $(FUZZ_FLAGS) -fsanitize=fuzzer \
	        -o build-fuzz/$$name $$src $$libs; \
	done
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh build-fuzz $(FUZZ_SRC)

lint:
	cppcheck -q --std=c11 --enable=warning,performance,portability \
	    --error-exitcode=1 --inline-suppr -D__GNUC__ -I common \
	    common agent server tests/tools
	@if command -v clang-tidy >/dev/null; then \
	    clang-tidy -quiet $(COMMON_SRC) $(AGENT_SRC) $(SERVER_SRC) agent/main.c server/main.c \
	        -- -std=c11 -D_GNU_SOURCE -I common; \
	else echo "clang-tidy not installed: skipped"; fi

DEPS_PKGS = gcc clang make pkg-config cppcheck clang-tidy \
	libsqlite3-dev libcurl4-openssl-dev zlib1g-dev libssl-dev libjansson-dev \
	libinih-dev libcmocka-dev libevent-dev libclang-rt-14-dev \
	python3 sqlite3 age openssl coreutils faketime file \
	libfuse3-dev fuse3 iproute2 util-linux nginx rsync valgrind gcovr linux-perf \
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
DEPS_ARM64 = libsqlite3-dev libcurl4-openssl-dev zlib1g-dev libssl-dev \
	libjansson-dev libinih-dev libcmocka-dev
deps:
	@SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	dpkg --print-foreign-architectures | grep -qx arm64 || $$SUDO dpkg --add-architecture arm64; \
	missing=$$(for p in $(DEPS_PKGS) $(DEPS_ARM64:%=%:arm64); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: all $(TOOL_BIN)
	@B=$(B) sh tests/demo.sh

vectors: all $(TOOL_BIN)
	@B=$(B) sh proto/vectors/make-vectors.sh

clean:
	rm -rf build build-asan build-fuzz build-cov build-$(CROSS) fundwatch-agent fundwatch-server
