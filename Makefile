# corral - the single build entry point.  See docs/TESTING.md for the targets.
#   make               release build -> bin/corral
#   make test          deps, build, unit + corpus replay + integration tests
#   make test-asan     the same suite under ASan+UBSan (build/asan)
#   make fuzz          libFuzzer targets for FUZZ_SECONDS each (clang)
#   make bench         benchmarks (not a test)
#   make demo          the README's demo
#   make fmt           clang-format in place; make fmt-check for CI
BUILD ?= release
B := build/$(BUILD)
Q := $(if $(V),,@)
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif

PKGS := libcurl libcrypto jansson libmicrohttpd libpcre2-8 libseccomp libedit
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wmissing-declarations -Wold-style-definition -Wredundant-decls -Wpointer-arith \
        -Wwrite-strings -Wformat=2 -Wformat-security -Wundef -Wvla \
        -Wdouble-promotion -Wimplicit-fallthrough -Wno-format-truncation \
        -Werror=implicit-function-declaration -Werror=incompatible-pointer-types \
        -Werror=return-type -Werror
HARDEN := -fstack-protector-strong -fstack-clash-protection -fPIE
CSTD := -std=c11 -D_GNU_SOURCE
OPT_release := -O2 -g -D_FORTIFY_SOURCE=2
OPT_debug := -O0 -g3
OPT_asan := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT_fuzz := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DCORRAL_FUZZ
OPT_cov := -O0 -g --coverage
LDOPT_asan := -fsanitize=address,undefined
LDOPT_fuzz := -fsanitize=address,undefined
LDOPT_cov := --coverage
ifeq ($(BUILD),fuzz)
CC := clang
# the fuzz build hunts crashes; warnings are policed by the gcc builds
WARN := $(filter-out -Werror -Wno-format-truncation,$(WARN)) -Wno-unknown-warning-option
endif

OPT := $(if $(filter $(BUILD),release debug asan fuzz cov),$(OPT_$(BUILD)),$(OPT_release))
CFLAGS := $(CSTD) $(OPT) $(WARN) $(HARDEN) -Isrc -Itests -DCORRAL_FAULT $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack $(LDOPT_$(BUILD))
LDLIBS := $(PKG_LIBS) -lpthread -lm

SRC := $(shell find src -name '*.c' | sort)
OBJ := $(SRC:%.c=$(B)/%.o)
LIBOBJ := $(filter-out $(B)/src/main.o,$(OBJ))
TEST_SRC := $(wildcard tests/unit/*.c) tests/harness/runner.c tests/harness/api_env.c
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/replay/%)

ifeq ($(BUILD),release)
CORRAL_BIN := bin/corral
else
CORRAL_BIN := $(B)/corral
endif

# Per-ISA kernels and the hot engine code get their own flags (runtime dispatch picks one).
# Only under src/: a test named after an ISA (test_kern_amx.c) runs on every CPU, and with these
# flags the compiler may use the ISA anywhere in it (the ASan build did: SIGILL on Zen 3).
$(B)/src/%_avx2.o: ISA := -mavx2 -mfma -mf16c -mbmi2
$(B)/src/%_avx512.o: ISA := -mavx2 -mfma -mf16c -mbmi2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
$(B)/src/%_amx.o: ISA := -mavx2 -mfma -mf16c -mbmi2 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mamx-tile -mamx-int8
$(B)/src/engine/%.o: KOPT := $(if $(filter debug asan fuzz cov,$(BUILD)),,-O3)

.PHONY: all test test-asan unit fuzz fuzz-smoke bench demo fmt fmt-check clean check-deps replay
all: check-deps $(CORRAL_BIN)

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing libraries: run scripts/deps.sh" >&2; exit 1; }

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(ISA) $(KOPT) -MMD -MP -c $< -o $@

$(CORRAL_BIN): $(OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(B)/unit_tests: $(TEST_OBJ) $(LIBOBJ)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(B)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< tests/fuzz/replay.c $(LIBOBJ) $(LDFLAGS) -o $@ $(LDLIBS)

replay: $(REPLAY_BINS)

test:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all $(B)/unit_tests replay
	@CORRAL_BIN=$(CORRAL_BIN) BUILD_DIR=$(B) scripts/run-tests.sh

test-asan:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory BUILD=asan all build/asan/unit_tests replay
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  CORRAL_SANITIZED=1 TEST_TIMEOUT_MULT=4 CORRAL_BIN=build/asan/corral BUILD_DIR=build/asan scripts/run-tests.sh

unit: all $(B)/unit_tests
	@$(B)/unit_tests $(T)

FUZZ_SECONDS ?= 60
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke:
	@scripts/fuzz.sh $${FUZZ_SECONDS:-10}

bench: all
	@scripts/bench.sh

demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

FMT_FILES = $(shell find src tests bench -name '*.[ch]')
fmt:
	clang-format -i $(FMT_FILES)
fmt-check:
	clang-format --dry-run --Werror $(FMT_FILES)

clean:
	rm -rf build bin

-include $(OBJ:.o=.d) $(TEST_OBJ:.o=.d)
