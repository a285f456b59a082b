# Top-level build for the MQTT chat system. See README.md.
#   make            build everything into build/
#   make deps       install the Debian 12 packages (as root) or print the command,
#                   and the web client's MQTT.js (npm ci in web/)
#   make web        only the latter (docs/WEB.md)
#   make up / down / status   run the local stack (state in var/); NODES=N: a
#                   cluster of N leaves; DB_NODES=3: a MariaDB Galera cluster
#   make backup [BACKUP=DIR] / make restore [DB_NODES=3] BACKUP=DIR   online
#                   database backup (of one Galera node on a DB_NODES stack);
#                   restore into the stopped stack (docs/ADMIN.md)
#   make test       unit + integration tests against real MariaDB and brokers
#   make asan       the same with ASan + UBSan, into build-asan/

BUILD ?= build
CC ?= cc
PKGS := libcjson libmariadb libmosquitto openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
# libmicrohttpd serves the metrics (common/metrics.c) on a thread of its own.
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpaho-mqtt3as -lmicrohttpd -lm
SAN_FLAGS ?=
# CFLAGS is the user's (optimisation, debug); the flags the build needs are
# kept apart so that `make CFLAGS=...` cannot drop them.
CFLAGS ?= -O2 -g
BUILD_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -pthread -Icommon $(PKG_CFLAGS)
BUILD_LDFLAGS := -pthread

COMMON_SRC := common/log.c common/config.c common/names.c common/pwhash.c common/topics.c \
	common/db.c common/json_util.c common/mqtt_svc.c common/mqtt_durable.c common/mqtt_pub.c common/random_id.c common/timefmt.c common/password_input.c common/file_util.c \
	common/clock.c common/fnv.c common/json_payload.c common/request_envelope.c common/room_msg.c common/metrics.c common/token.c
PLUGIN_SRC := auth-plugin/plugin.c auth-plugin/snapshot.c auth-plugin/loader.c auth-plugin/acl.c \
	auth-plugin/conn_events.c auth-plugin/backends.c auth-plugin/backend_mariadb.c \
	auth-plugin/backend_file.c auth-plugin/backend_http.c auth-plugin/login_cache.c auth-plugin/flood.c \
	auth-plugin/acl_file.c auth-plugin/plugin_opts.c auth-plugin/clientid_owner.c auth-plugin/clientid_store.c \
	auth-plugin/plugin_metrics.c auth-plugin/send_rate.c auth-plugin/token_conns.c auth-plugin/token_login.c
HISTORY_SRC := history-svc/main.c history-svc/store.c history-svc/requests.c history-svc/room_admin.c \
	history-svc/reply_queue.c history-svc/retention.c history-svc/store_batch.c \
	history-svc/committer.c history-svc/intake_log.c history-svc/outbox.c \
	history-svc/replies.c history-svc/request_db.c history-svc/history_metrics.c history-svc/stored_feed.c history-svc/account_ops.c \
	history-svc/room_access.c history-svc/room_meta.c history-svc/room_moderation.c \
	history-svc/receipts.c history-svc/search.c history-svc/search_query.c
# Message events (issue 13): their store, and the history op that folds them.
HISTORY_SRC += history-svc/store_meta.c history-svc/store_event.c history-svc/history_op.c \
	history-svc/history_fold.c
PRESENCE_SRC := presence-svc/main.c presence-svc/presence.c presence-svc/presence_table.c presence-svc/presence_nodes.c \
	presence-svc/presence_publish.c presence-svc/presence_typing.c presence-svc/conn_event.c presence-svc/requests.c \
	presence-svc/presence_metrics.c
CHAT_SRC := clients/chat.c clients/chat_args.c clients/chat_account.c clients/chat_backoff.c clients/chat_net.c clients/chat_net_events.c clients/chat_net_ops.c \
	clients/chat_net_rooms.c clients/chat_net_outbox.c clients/chat_net_requests.c clients/chat_net_catchup.c \
	clients/chat_net_incoming.c clients/chat_net_reconnect.c clients/chat_net_account.c clients/chat_proto.c clients/chat_cmd.c clients/chat_plain.c \
	clients/chat_tui.c clients/chat_tui_model.c clients/chat_tui_draw.c clients/chat_tui_input.c clients/chat_loop.c
# Message operations (issue 13) in chat:
CHAT_SRC += clients/chat_ops.c clients/chat_proto_ops.c clients/chat_net_sync.c clients/chat_net_msgops.c clients/chat_cmd_ops.c clients/chat_tui_ops.c
CHATCTL_SRC := clients/chatctl.c clients/chatctl_token.c
HEALTH_SRC := health-agent/main.c health-agent/probe.c
PUSH_SRC := push-svc/main.c push-svc/push_db.c push-svc/online.c push-svc/requests.c push-svc/feed.c \
	push-svc/dispatch.c push-svc/sender.c push-svc/webpush.c
UNIT_SRC := tests/unit/test_main.c tests/unit/test_common.c tests/unit/test_acl.c tests/unit/test_plugin_parts.c tests/unit/test_send_rate.c \
	tests/unit/test_intake_log.c history-svc/intake_log.c \
	tests/unit/test_presence.c $(filter-out presence-svc/main.c presence-svc/requests.c presence-svc/presence_metrics.c,$(PRESENCE_SRC)) \
	tests/unit/test_client.c clients/chat_proto.c clients/chat_backoff.c \
	tests/unit/test_wire_rules.c tests/unit/test_metrics.c tests/unit/test_webpush.c push-svc/webpush.c tests/unit/test_tokens.c \
	tests/unit/test_search.c history-svc/search_query.c
UNIT_SRC += tests/unit/test_chat_ops.c clients/chat_ops.c clients/chat_proto_ops.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
# common/ is built once, as a static library: each program takes from it
# only the objects it uses.
COMMON_LIB := $(BUILD)/libchatcommon.a

PROGRAMS := $(BUILD)/chat_auth.so $(BUILD)/history-svc $(BUILD)/presence-svc \
	$(BUILD)/chat $(BUILD)/chatctl $(BUILD)/health-agent $(BUILD)/push-svc $(BUILD)/unit-tests

.PHONY: all deps web up down status backup restore test unit integration asan clean fuzz
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

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	rm -f $@
	$(AR) rcs $@ $^

# The plugin takes only the common code it needs (the archive gives no
# more) and leaves libmosquitto's symbols to the broker that loads it.
$(BUILD)/chat_auth.so: $(call obj,$(PLUGIN_SRC)) $(COMMON_LIB)
	$(CC) -shared $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(shell pkg-config --libs libcjson libmariadb openssl libcurl) -lmicrohttpd -lm

$(BUILD)/history-svc: $(call obj,$(HISTORY_SRC)) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/presence-svc: $(call obj,$(PRESENCE_SRC)) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/chat: $(call obj,$(CHAT_SRC)) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)

$(BUILD)/chatctl: $(call obj,$(CHATCTL_SRC)) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# libmosquitto (not Paho): the agent needs no durable session, only a
# login and a round trip on a thread of its own.
$(BUILD)/health-agent: $(call obj,$(HEALTH_SRC)) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# libcurl's multi interface sends the pushes (push-svc/sender.c).
$(BUILD)/push-svc: $(call obj,$(PUSH_SRC)) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs libcurl)

PLUGIN_UNIT_SRC := auth-plugin/acl.c auth-plugin/snapshot.c auth-plugin/login_cache.c auth-plugin/flood.c \
	auth-plugin/acl_file.c auth-plugin/clientid_owner.c auth-plugin/clientid_store.c auth-plugin/send_rate.c auth-plugin/token_conns.c auth-plugin/token_login.c
$(BUILD)/unit-tests: $(call obj,$(UNIT_SRC)) $(patsubst %.c,$(BUILD)/obj-test/%.o,$(PLUGIN_UNIT_SRC)) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

deps:
	@scripts/deps.sh

web:
	@scripts/deps.sh web

up: deps
	@$(MAKE) --no-print-directory all
	@CHAT_NODES=$(NODES) CHAT_DB_NODES=$(DB_NODES) scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

backup:
	@scripts/stack.sh backup $(BACKUP)

restore:
	@test -n "$(BACKUP)" || { echo "usage: make restore [DB_NODES=3] BACKUP=DIR (a directory of make backup)"; exit 2; }
	@CHAT_DB_NODES=$(DB_NODES) scripts/stack.sh restore $(BACKUP)

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

# libFuzzer targets (clang), each run FUZZ_SECONDS by `make fuzz`; the first
# is the ACL-file parser and topic matchers.
FUZZ_SECONDS ?= 60
$(BUILD)/fuzz-acl-file: tests/fuzz/fuzz_acl_file.c auth-plugin/acl_file.c auth-plugin/acl_file.h
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -DPLUGIN_ALLOC_LIBC \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ tests/fuzz/fuzz_acl_file.c auth-plugin/acl_file.c common/file_util.c -lmosquitto

# The chat rules (acl_chat_decide) on a fixed snapshot, with invariants.
$(BUILD)/fuzz-chat-acl: tests/fuzz/fuzz_chat_acl.c auth-plugin/acl.c auth-plugin/snapshot.c common/topics.c common/names.c \
		common/token.c
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -DPLUGIN_ALLOC_LIBC \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $^ -lcrypto

# presence-svc's connection-event parser and the state machine it feeds.
FUZZ_CONN_EVENT_SRC := tests/fuzz/fuzz_conn_event.c presence-svc/conn_event.c \
	$(filter-out presence-svc/main.c presence-svc/requests.c presence-svc/conn_event.c presence-svc/presence_metrics.c,$(PRESENCE_SRC)) \
	common/json_util.c common/json_payload.c common/names.c common/log.c common/fnv.c common/clock.c common/timefmt.c \
	common/topics.c
$(BUILD)/fuzz-conn-event: $(FUZZ_CONN_EVENT_SRC) $(wildcard presence-svc/*.h)
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon $(shell pkg-config --cflags libcjson) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_CONN_EVENT_SRC) $(shell pkg-config --libs libcjson)

# The chat client's parser of incoming publishes (chat_proto_incoming),
# with the invariants its front ends rely on.
$(BUILD)/fuzz-chat-incoming: tests/fuzz/fuzz_chat_incoming.c clients/chat_proto.c clients/chat_proto_ops.c clients/chat_ops.c common/json_util.c common/names.c common/topics.c \
		common/json_payload.c common/room_msg.c
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon $(shell pkg-config --cflags libcjson) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $^ $(shell pkg-config --libs libcjson)

# The request envelope both services read (common/request_envelope.c).
FUZZ_CJSON := $(shell pkg-config --cflags --libs libcjson)
$(BUILD)/fuzz-request-envelope: tests/fuzz/fuzz_request_envelope.c common/request_envelope.c common/json_payload.c \
		common/json_util.c common/names.c
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $^ $(FUZZ_CJSON)

# The check of a room message both ends apply (common/room_msg.c).
$(BUILD)/fuzz-message-check: tests/fuzz/fuzz_message_check.c common/room_msg.c common/json_payload.c \
		common/json_util.c common/names.c
	@mkdir -p $(BUILD)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $^ $(FUZZ_CJSON)


# Each fuzz target runs FUZZ_SECONDS on its seed corpus (tests/fuzz/corpus_*)
# plus what earlier runs found (build/fuzz-corpus-*).
FUZZ_TARGETS := acl-file:acl_file:4096 chat-acl:chat_acl:512 conn-event:conn_event:4096 chat-incoming:chat_incoming:4096 \
	request-envelope:request_envelope:8192 message-check:message_check:8192
fuzz: $(foreach t,$(FUZZ_TARGETS),$(BUILD)/fuzz-$(word 1,$(subst :, ,$(t))))
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; rest=$${t#*:}; corpus=$${rest%%:*}; len=$${rest#*:}; \
		mkdir -p $(BUILD)/fuzz-corpus-$$name; \
		echo "fuzz: $$name"; \
		$(BUILD)/fuzz-$$name -max_total_time=$(FUZZ_SECONDS) -max_len=$$len $(BUILD)/fuzz-corpus-$$name tests/fuzz/corpus_$$corpus; \
	done

clean:
	rm -rf build build-asan

# Benchmarks (docs/BENCHMARKS.md): the load generator, the ACL
# microbenchmark, and the suite that runs every scenario against its
# baselines on private brokers and a private stack.
BENCH_LOAD_SRC := tests/bench/chatload.c tests/bench/latency_hist.c
BENCH_ACL_SRC := tests/bench/aclbench.c
BENCH_TOKEN_SRC := tests/bench/tokenbench.c
BENCH_PROGRAMS := $(BUILD)/chat_auth.so $(BUILD)/history-svc $(BUILD)/presence-svc $(BUILD)/push-svc $(BUILD)/chatctl \
	$(BUILD)/chatload $(BUILD)/aclbench $(BUILD)/tokenbench $(BUILD)/allow_all.so

$(BUILD)/chatload: $(call obj,$(BENCH_LOAD_SRC))
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# A do-nothing plugin that allows everything: scenario (1)'s fourth variant.
$(BUILD)/allow_all.so: $(call obj,tests/bench/allow_all_plugin.c)
	$(CC) -shared $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^

$(BUILD)/aclbench: $(call obj,$(BENCH_ACL_SRC)) $(patsubst %.c,$(BUILD)/obj-test/%.o,auth-plugin/acl.c auth-plugin/snapshot.c) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# The token-login microbenchmark (docs/BENCHMARKS.md, "Token logins").
$(BUILD)/tokenbench: $(call obj,$(BENCH_TOKEN_SRC)) $(patsubst %.c,$(BUILD)/obj-test/%.o,auth-plugin/snapshot.c \
		auth-plugin/login_cache.c auth-plugin/token_conns.c auth-plugin/token_login.c) $(COMMON_LIB)
	$(CC) $(BUILD_LDFLAGS) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

.PHONY: bench bench-quick bench-web bench-push bench-search
bench: deps
	@$(MAKE) --no-print-directory $(BENCH_PROGRAMS)
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/bench.py --full
	$(BUILD)/tokenbench > tests/bench/results/tokenbench.json
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/token_storm.py
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/web_bench.py
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/events_bench.py
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/push_bench.py
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/search_bench.py

# Search latency and the search index's cost to storage (docs/BENCHMARKS.md,
# "Search"); 20,000,000 rows, about 30 minutes.
bench-search: deps
	@$(MAKE) --no-print-directory all
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/search_bench.py

# The web client in headless Chromium (docs/BENCHMARKS.md, "Web client").
bench-web: deps
	@$(MAKE) --no-print-directory all
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/web_bench.py

# push-svc with 1,000 offline users (docs/BENCHMARKS.md, "push-svc").
bench-push: deps
	@$(MAKE) --no-print-directory all
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/push_bench.py

bench-quick: deps
	@$(MAKE) --no-print-directory $(BENCH_PROGRAMS)
	CHAT_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/bench.py --quick
