# agent-async -- one non-recursive Makefile for every program and test.
# make            build everything under build/
# make test       unit tests (Check) + end-to-end scenarios on a private redis-server
# make run        install missing packages (as root), start everything, attach the client
# make up / down  the services in the background (pids and logs under build/run/)
# make test SANITIZE=address,undefined   the same under ASan+UBSan

SHELL    := /bin/bash
CC       ?= cc
SANITIZE ?=
V        ?= 0

ifeq ($(SANITIZE),)
  VARIANT :=
  OPT     := -O2
else
  VARIANT := -san
  OPT     := -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

BUILD  := build
OBJDIR := $(BUILD)/obj$(VARIANT)
BINDIR := $(BUILD)/bin$(VARIANT)
GENDIR := $(BUILD)/gen

PKGS      := hiredis libevent libevent_openssl libevent_pthreads jansson openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null)
LWS_CFLAGS := $(shell pkg-config --cflags libwebsockets 2>/dev/null)
LWS_LIBS   := $(shell pkg-config --libs libwebsockets 2>/dev/null)
EDIT_LIBS  := $(shell pkg-config --libs libedit 2>/dev/null)
GLIB_CFLAGS := $(shell pkg-config --cflags glib-2.0 2>/dev/null)
GLIB_LIBS   := $(shell pkg-config --libs glib-2.0 2>/dev/null)
GTK_CFLAGS  := $(shell pkg-config --cflags gtk4 2>/dev/null)
GTK_LIBS    := $(shell pkg-config --libs gtk4 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

# Each folder sees its own headers and those below it, never those above
# or beside it (INC, per folder, below): an upward include fails to compile.
#   lib/  <-  worker/  <-  worker/agent/, worker/tool/
#   lib/  <-  gateway/, client/, ctl/        tests/ see everything
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -MMD -MP \
           $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(OPT) $(EXTRA_LDFLAGS)
LIBS    := $(PKG_LIBS) -lwslay -lhttp_parser -lpthread -lm

ifeq ($(V),0)
  Q := @
  say = @printf '  %-6s %s\n' $(1) $(2);
else
  Q :=
  say :=
endif

LIB_SRC     := $(wildcard lib/*.c)
GW_SRC      := $(filter-out gateway/main.c,$(wildcard gateway/*.c))
WK_SRC      := $(wildcard worker/*.c)
AGENT_SRC   := $(filter-out worker/agent/agent_main.c,$(wildcard worker/agent/*.c))
TOOL_SRC    := $(filter-out worker/tool/tool_main.c,$(wildcard worker/tool/*.c))
CLIENT_SRC  := $(wildcard client/cl_*.c)
UNIT_SRC    := $(wildcard tests/unit/*.c)
LUA_SRC     := $(wildcard lua/*.lua)
LUA_C       := $(GENDIR)/lua_sources.c
SCRIPTS_GEN := $(GENDIR)/scripts_gen.c $(GENDIR)/scripts_gen.h

obj = $(patsubst %.c,$(OBJDIR)/%.o,$(1))
LIB_OBJ   := $(call obj,$(LIB_SRC)) $(OBJDIR)/gen/lua_sources.o $(OBJDIR)/gen/scripts_gen.o
GW_OBJ    := $(call obj,$(GW_SRC))
WK_OBJ    := $(call obj,$(WK_SRC))
AGENT_OBJ := $(call obj,$(AGENT_SRC))
TOOL_OBJ  := $(call obj,$(TOOL_SRC))
CL_OBJ    := $(call obj,$(CLIENT_SRC))

# The include path of each folder (pattern-specific: the longest match wins).
$(OBJDIR)/lib/%.o:          INC := -Ilib -I$(GENDIR)
$(OBJDIR)/gen/%.o:          INC := -Ilib -I$(GENDIR)
$(OBJDIR)/gateway/%.o:      INC := -Igateway -Ilib -I$(GENDIR)
$(OBJDIR)/worker/%.o:       INC := -Iworker -Ilib -I$(GENDIR)
$(OBJDIR)/worker/agent/%.o: INC := -Iworker/agent -Iworker -Ilib -I$(GENDIR)
$(OBJDIR)/worker/tool/%.o:  INC := -Iworker/tool -Iworker -Ilib -I$(GENDIR)
$(OBJDIR)/client/%.o:       INC := -Iclient -Ilib -I$(GENDIR)
$(OBJDIR)/ctl/%.o:          INC := -Ictl -Ilib -I$(GENDIR)
$(OBJDIR)/tests/%.o:        INC := -Itests/unit -Ilib -Iworker -Iworker/agent -Iworker/tool \
                                   -Igateway -Iclient -I$(GENDIR)

PROGRAMS := $(BINDIR)/aa-gateway $(BINDIR)/aa-agent-worker $(BINDIR)/aa-tool-worker \
            $(BINDIR)/aa-client $(BINDIR)/aa-ctl $(BINDIR)/aa-bench $(BINDIR)/aa-wsload
# aa-desktop (GTK 4) is built where libgtk-4-dev is installed (make test and
# CI install it; the container images build the servers and aa-client only).
ifneq ($(GTK_LIBS),)
PROGRAMS += $(BINDIR)/aa-desktop
endif
UNIT     := $(BINDIR)/check_all

.PHONY: all test test-cluster unit e2e run up down format format-check clean deps bench fuzz
all: $(PROGRAMS)

# Every object waits for the generated script calls (order only; -MMD
# records the real dependencies).
$(OBJDIR)/%.o: %.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(INC) -c -o $@ $<

# The client uses libwebsockets, whose header must never meet http_parser.h.
$(OBJDIR)/client/%.o: client/%.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(INC) $(LWS_CFLAGS) $(GLIB_CFLAGS) -c -o $@ $<

$(OBJDIR)/client/desktop.o: client/desktop.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(INC) $(LWS_CFLAGS) $(GTK_CFLAGS) -c -o $@ $<

$(OBJDIR)/tests/bench/%.o: tests/bench/%.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(INC) $(LWS_CFLAGS) -c -o $@ $<

$(BINDIR)/aa-bench: $(OBJDIR)/tests/bench/bench.o $(WK_OBJ) $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LWS_LIBS) $(LIBS)

$(BINDIR)/aa-wsload: $(OBJDIR)/tests/bench/wsload.o $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(OBJDIR)/tests/unit/%.o: tests/unit/%.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(INC) $(CHECK_CFLAGS) -c -o $@ $<

$(LUA_C): $(LUA_SRC) lua/embed.sh
	@mkdir -p $(dir $@)
	$(call say,LUA,$@)sh lua/embed.sh $@ lua

# One typed call per script, from the scripts' --@keys/--@argv lines.
$(GENDIR)/scripts_gen.c: $(LUA_SRC) lua/scripts.sh
	$(call say,LUA,$@)sh lua/scripts.sh $(GENDIR) lua
$(GENDIR)/scripts_gen.h: $(GENDIR)/scripts_gen.c

$(OBJDIR)/gen/%.o: $(GENDIR)/%.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS) $(INC) -c -o $@ $<

$(BINDIR)/libaa.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(BINDIR)/aa-gateway: $(OBJDIR)/gateway/main.o $(GW_OBJ) $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BINDIR)/aa-agent-worker: $(OBJDIR)/worker/agent/agent_main.o $(AGENT_OBJ) $(WK_OBJ) $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(LIBS)

$(BINDIR)/aa-tool-worker: $(OBJDIR)/worker/tool/tool_main.o $(TOOL_OBJ) $(WK_OBJ) $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BINDIR)/aa-client: $(OBJDIR)/client/main.o $(CL_OBJ) $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LWS_LIBS) $(EDIT_LIBS) $(GLIB_LIBS) $(LIBS)

$(BINDIR)/aa-desktop: $(OBJDIR)/client/desktop.o $(CL_OBJ) $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LWS_LIBS) $(GTK_LIBS) $(LIBS)

# aa-ctl: the operator's tool needs the library only (no worker, no libcurl)
$(BINDIR)/aa-ctl: $(OBJDIR)/ctl/ctl_main.o $(OBJDIR)/ctl/ctl_cells.o $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(UNIT): $(call obj,$(UNIT_SRC)) $(GW_OBJ) $(WK_OBJ) $(AGENT_OBJ) $(TOOL_OBJ) $(CL_OBJ) \
         $(BINDIR)/libaa.a
	$(call say,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LWS_LIBS) $(GLIB_LIBS) $(CURL_LIBS) \
	    $(LIBS)

# test, run and up first install what is missing (as root), then build in a
# second make, which finds the packages that were just installed.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT)
	$(Q)BINDIR=$(BINDIR) bash tests/run.sh

# the end-to-end scenarios again, on a private Redis Cluster (3+3, AOF)
test-cluster: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)AA_E2E_CLUSTER=1 BINDIR=$(BINDIR) bash tests/run.sh --e2e

unit: $(UNIT)
	$(Q)$(UNIT)

e2e: all
	$(Q)BINDIR=$(BINDIR) bash tests/e2e/run.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BINDIR=$(BINDIR) exec bash ops/run.sh run

up: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BINDIR=$(BINDIR) bash ops/run.sh up

down:
	$(Q)bash ops/run.sh down

deps:
	$(Q)sh ops/deps.sh

bench: all
	$(Q)BINDIR=$(BINDIR) bash tests/bench/run.sh

# libFuzzer targets (clang): make fuzz [FUZZ_SECONDS=60]
FUZZ_SECONDS ?= 60
FUZZ_OBJ := $(BUILD)/obj-fuzz
FUZZ_BIN := $(BUILD)/bin-fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
               -Ilib -Igateway -Iworker/agent -I$(GENDIR) $(PKG_CFLAGS)
FUZZ_LIB_SRC := lib/util.c lib/ids.c lib/jwt.c lib/log.c gateway/gw_http.c gateway/gw_ws.c \
                gateway/gw_msg.c worker/agent/evstream.c
FUZZ_TARGETS := http route jwt evstream conn
# fuzz_conn drives a whole gateway connection: it links the gateway and lib
FUZZ_CONN_SRC := $(LIB_SRC) $(GW_SRC)

$(FUZZ_OBJ)/%.o: %.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$<)clang $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BIN)/fuzz_conn: $(FUZZ_OBJ)/tests/fuzz/fuzz_conn.o $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(FUZZ_CONN_SRC)) \
                       $(FUZZ_OBJ)/gen/lua_sources.o $(FUZZ_OBJ)/gen/scripts_gen.o
	@mkdir -p $(dir $@)
	$(call say,LD,$@)clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lwslay -lhttp_parser -lpthread -lm

$(FUZZ_OBJ)/gen/%.o: $(GENDIR)/%.c | $(SCRIPTS_GEN)
	@mkdir -p $(dir $@)
	$(call say,CLANG,$<)clang $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BIN)/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(FUZZ_LIB_SRC))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lhttp_parser

.SECONDARY:

fuzz: $(patsubst %,$(FUZZ_BIN)/fuzz_%,$(FUZZ_TARGETS))
	$(Q)for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz-corpus/$$t; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BIN)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	        $(BUILD)/fuzz-corpus/$$t tests/fuzz/corpus/$$t 2>&1 | \
	        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==.*ERROR|SUMMARY)' || true; \
	    test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done; echo "fuzz: no crash"

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_SRC)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: ok"

clean:
	rm -rf $(BUILD)/obj $(BUILD)/obj-san $(BUILD)/bin $(BUILD)/bin-san $(BUILD)/gen \
	    $(BUILD)/obj-fuzz $(BUILD)/bin-fuzz

-include $(shell find $(BUILD)/obj$(VARIANT) -name '*.d' 2>/dev/null)
