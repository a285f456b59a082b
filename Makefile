# Top-level build for the MQTT chat system. See README.md.
#   make            build everything into build/
#   make deps       install the Debian 12 packages (as root) or print the command,
#                   and the web client's MQTT.js (npm ci in web/)
#   make web        only the latter (docs/WEB.md)
#   make up / down / status   run the local stack (state in var/)
#   make test       unit + integration tests against real MariaDB and brokers
#   make asan       the same with ASan + UBSan, into build-asan/

BUILD ?= build
CC ?= cc
PKGS := libcjson libmariadb libmosquitto openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpaho-mqtt3as
SAN_FLAGS ?=
# CFLAGS is the user's (optimisation, debug); the flags the build needs are
# kept apart so that `make CFLAGS=...` cannot drop them.
CFLAGS ?= -O2 -g
BUILD_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -pthread -Icommon $(PKG_CFLAGS)
BUILD_LDFLAGS := -pthread

COMMON_SRC := common/log.c common/config.c common/names.c common/pwhash.c common/topics.c \
	common/db.c common/json_util.c common/mqtt_svc.c common/mqtt_durable.c common/mqtt_pub.c common/random_id.c common/timefmt.c common/password_input.c common/file_util.c
PLUGIN_SRC := auth-plugin/plugin.c auth-plugin/snapshot.c auth-plugin/loader.c auth-plugin/acl.c \
	auth-plugin/conn_events.c auth-plugin/backends.c auth-plugin/backend_mariadb.c \
	auth-plugin/backend_file.c auth-plugin/backend_http.c auth-plugin/login_cache.c auth-plugin/flood.c \
	auth-plugin/acl_file.c auth-plugin/plugin_opts.c
HISTORY_SRC := history-svc/main.c history-svc/store.c history-svc/requests.c history-svc/room_admin.c \
	history-svc/reply_queue.c history-svc/retention.c history-svc/store_batch.c \
	history-svc/committer.c history-svc/intake_log.c
PRESENCE_SRC := presence-svc/main.c presence-svc/presence.c presence-svc/requests.c
CHAT_SRC := clients/chat.c clients/chat_args.c clients/chat_net.c clients/chat_proto.c clients/chat_cmd.c clients/chat_plain.c clients/chat_tui.c clients/chat_signals.c
CHATCTL_SRC := clients/chatctl.c
UNIT_SRC := tests/unit/test_main.c tests/unit/test_common.c tests/unit/test_acl.c tests/unit/test_plugin_parts.c \
	tests/unit/test_intake_log.c history-svc/intake_log.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))

PROGRAMS := $(BUILD)/chat_auth.so $(BUILD)/history-svc $(BUILD)/presence-svc \
	$(BUILD)/chat $(BUILD)/chatctl $(BUILD)/unit-tests

.PHONY: all deps web up down status test unit integration asan clean fuzz
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

# Plugin sources built for the unit tests, which run without a broker:
# plugin_alloc.h then uses calloc/free instead of the broker's allocator.
$(BUILD)/obj-test/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) $(SAN_FLAGS) -DPLUGIN_ALLOC_LIBC -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj $(BUILD)/obj-test -name '*.d' 2>/dev/null)

# The plugin takes only the common code it needs and leaves libmosquitto's
# symbols to the broker that loads it.
PLUGIN_COMMON := $(call obj,common/names.c common/pwhash.c common/topics.c common/db.c common/config.c \
	common/file_util.c)
$(BUILD)/chat_auth.so: $(call obj,$(PLUGIN_SRC)) $(PLUGIN_COMMON)
	$(CC) -shared $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(shell pkg-config --libs libcjson libmariadb openssl libcurl)

$(BUILD)/history-svc: $(call obj,$(HISTORY_SRC)) $(COMMON_OBJ)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/presence-svc: $(call obj,$(PRESENCE_SRC)) $(COMMON_OBJ)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/chat: $(call obj,$(CHAT_SRC)) $(COMMON_OBJ)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)

$(BUILD)/chatctl: $(call obj,$(CHATCTL_SRC)) $(COMMON_OBJ)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

PLUGIN_UNIT_SRC := auth-plugin/acl.c auth-plugin/snapshot.c auth-plugin/login_cache.c auth-plugin/flood.c \
	auth-plugin/acl_file.c
$(BUILD)/unit-tests: $(call obj,$(UNIT_SRC)) $(patsubst %.c,$(BUILD)/obj-test/%.o,$(PLUGIN_UNIT_SRC)) $(COMMON_OBJ)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

deps:
	@scripts/deps.sh

web:
	@scripts/deps.sh web

up: deps
	@$(MAKE) --no-print-directory all
	@CHAT_NODES=$(NODES) scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

unit: all
	$(BUILD)/unit-tests

integration: all
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/integration

test: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/unit-tests
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10 > $(BUILD)/fuzz.log 2>&1 \
		|| { tail -40 $(BUILD)/fuzz.log; echo "fuzzing found a crash: see $(BUILD)/fuzz.log"; exit 1; }
	@echo "fuzz: $$(tail -1 $(BUILD)/fuzz.log)"
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/integration

# ASan + UBSan: the daemons and tools are built instrumented; the plugin is
# instrumented too and loaded into the stock broker with libasan preloaded.
# The tests fail if any sanitizer report appears in a log.
asan: deps
	@$(MAKE) --no-print-directory all BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
	ASAN_OPTIONS=detect_leaks=1 build-asan/unit-tests
	CHAT_BUILD=$(abspath build-asan) CHAT_SANITIZED=1 /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/integration

# libFuzzer target for the ACL-file parser and topic matchers (clang).
FUZZ_SECONDS ?= 60
$(BUILD)/fuzz-acl-file: tests/fuzz/fuzz_acl_file.c auth-plugin/acl_file.c auth-plugin/acl_file.h
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -DPLUGIN_ALLOC_LIBC \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ tests/fuzz/fuzz_acl_file.c auth-plugin/acl_file.c common/file_util.c -lmosquitto

# The chat rules (acl_chat_decide) on a fixed snapshot, with invariants.
$(BUILD)/fuzz-chat-acl: tests/fuzz/fuzz_chat_acl.c auth-plugin/acl.c auth-plugin/snapshot.c common/topics.c common/names.c
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -DPLUGIN_ALLOC_LIBC \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $^

fuzz: $(BUILD)/fuzz-acl-file $(BUILD)/fuzz-chat-acl
	@mkdir -p $(BUILD)/fuzz-corpus $(BUILD)/fuzz-corpus-chat
	$(BUILD)/fuzz-acl-file -max_total_time=$(FUZZ_SECONDS) -max_len=4096 $(BUILD)/fuzz-corpus tests/fuzz/corpus_acl_file
	$(BUILD)/fuzz-chat-acl -max_total_time=$(FUZZ_SECONDS) -max_len=512 $(BUILD)/fuzz-corpus-chat tests/fuzz/corpus_chat_acl

clean:
	rm -rf build build-asan

# Benchmarks (docs/BENCHMARKS.md): the load generator, the ACL
# microbenchmark, and the suite that runs every scenario against its
# baselines on private brokers and a private stack.
BENCH_LOAD_SRC := tests/bench/chatload.c tests/bench/latency_hist.c
BENCH_ACL_SRC := tests/bench/aclbench.c
BENCH_PROGRAMS := $(BUILD)/chat_auth.so $(BUILD)/history-svc $(BUILD)/presence-svc $(BUILD)/chatctl \
	$(BUILD)/chatload $(BUILD)/aclbench

$(BUILD)/chatload: $(call obj,$(BENCH_LOAD_SRC))
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/aclbench: $(call obj,$(BENCH_ACL_SRC)) $(patsubst %.c,$(BUILD)/obj-test/%.o,auth-plugin/acl.c auth-plugin/snapshot.c) $(COMMON_OBJ)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

.PHONY: bench bench-quick bench-web
bench: deps
	@$(MAKE) --no-print-directory $(BENCH_PROGRAMS)
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/bench.py --full
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/web_bench.py

# The web client in headless Chromium (docs/BENCHMARKS.md, "Web client").
bench-web: deps
	@$(MAKE) --no-print-directory all
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/web_bench.py

bench-quick: deps
	@$(MAKE) --no-print-directory $(BENCH_PROGRAMS)
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/bench.py --quick
