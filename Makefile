# segments: PGXS build.
#
#   make                    build segments.so
#   make install            install into the PostgreSQL that PG_CONFIG names
#   make installcheck       pg_regress against a running, installed server
#   make ASSERTS=1          build with Assert() checks enabled
#   make fuzz               build the libFuzzer harness test/fuzz/fuzz_rule
#
# test/run.sh runs every suite (regression, isolation, fuzz, scripts) on a
# throwaway server; it reads the test lists below through print-regress and
# print-isolation, so they are defined here only.

PG_CONFIG ?= pg_config

MODULE_big = segments
OBJS = \
	src/segments.o \
	src/rule_port.o \
	src/rule_tree.o \
	src/rule_encode.o \
	src/rule_validate.o \
	src/rule_parse.o \
	src/rule_print.o \
	src/rule_type.o \
	src/rule_json.o \
	src/rule_refs.o \
	src/rule_time.o \
	src/rule_jsonb.o \
	src/rule_check.o \
	src/rule_sql.o \
	src/rule_eval.o \
	src/field_index.o \
	src/bucket.o \
	src/override.o \
	src/lint.o \
	src/contact_data.o \
	src/contact_key.o \
	src/contact_queue.o \
	src/tick.o \
	src/membership.o \
	src/segment_cache.o \
	src/data_owner.o \
	src/contact_visibility.o \
	src/spi_plan.o \
	src/change_feed.o \
	src/citus.o \
	src/shard_task.o \
	src/maintain.o \
	src/removal.o \
	src/restore.o \
	src/worker.o

EXTENSION = segments
DATA = segments--0.1.sql segments--0.1--0.2.sql

REGRESS = test_setup rule_syntax rule_print rule_errors rule_limits rule_json \
	rule_binary rule_compare rule_refs attach lifecycle \
	semantics_setup semantics_fields semantics_json semantics_events semantics_measures semantics_kinds semantics_sources semantics_time time_zones tenant_keys collations \
	semantics_lists semantics_list_state time_in_segment samples overrides static_segments lint semantics_errors privileges row_security internal_functions operator_hijack escalation maintenance transactions change_feed history ddl catalog_cache denial_of_service tick drift replicated_writes restore_mode removal
# UTF-8 and the C locale whatever the environment, so the expected output
# (sorting, case folding, non-ASCII identifiers) is the same on every machine.
REGRESS_OPTS = --load-extension=segments --encoding=UTF8 --no-locale

# Concurrency tests (test/isolation/specs/<name>.spec and
# test/isolation/expected/<name>.out): sql/ and expected/ hold only
# pg_regress's tests.
ISOLATION = count_threshold tenant_keys repeatable_read catalog_isolation \
	catalog_create catalog_alter catalog_rename catalog_drop catalog_attach catalog_detach catalog_ddl \
	locks no_deadlock tick_concurrency notifications change_feed overrides
ISOLATION_OPTS = $(REGRESS_OPTS) --inputdir=test/isolation \
	--temp-config=$(CURDIR)/test/isolation/isolation.conf

# -Wno-unused-parameter: -Wextra's unused-parameter warning fires inside
# PostgreSQL's own headers (static inline functions in storage/bufpage.h and
# lib/ilist.h ignore some of their parameters) and on every V1 function that
# does not read its PG_FUNCTION_ARGS, so it cannot be kept with -Werror.
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter

# make ASSERTS=1: enable Assert() in our code even when the server was built
# without --enable-cassert.  CPPFLAGS reach both the C and the bitcode build.
ifeq ($(ASSERTS),1)
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING
endif

FUZZ_CC ?= clang-14
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -DSEGMENTS_STANDALONE -Isrc
FUZZ_SRCS = test/fuzz/fuzz_rule.c src/rule_port.c src/rule_tree.c src/rule_encode.c \
	src/rule_validate.c src/rule_parse.c src/rule_print.c
FUZZ_HDRS = src/rule_format.h src/rule_port.h src/rule_tree.h

EXTRA_CLEAN = test/fuzz/fuzz_rule

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Every object depends on the rule format and core headers.
$(OBJS): $(wildcard src/*.h)

.PHONY: fuzz print-regress print-regress-opts print-isolation print-isolation-opts

fuzz: test/fuzz/fuzz_rule

test/fuzz/fuzz_rule: $(FUZZ_SRCS) $(FUZZ_HDRS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS)

print-regress:
	@echo $(REGRESS)

print-regress-opts:
	@echo $(REGRESS_OPTS)

print-isolation:
	@echo $(ISOLATION)

print-isolation-opts:
	@echo $(ISOLATION_OPTS)
