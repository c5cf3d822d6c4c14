# The hub's store (hub/hub-store.c: opening and transactions; rows and rendering, the IdPs' writes,
# memberships, the change sequence, the guard and lock, lists and the schema in hub/hub-store-*.c)
# on one database interface
# (hub/hub-store-db.h): SQLite through the shared core (common/libprovsql.la, hub/hub-store-db.c)
# or PostgreSQL through libpq (hub/hub-store-pg.c); part of libhub.
hub_libhub_la_SOURCES += hub/hub-store.h hub/hub-store-internal.h hub/hub-store.c hub/hub-store-render.c \
	hub/hub-store-write.c hub/hub-store-members.c hub/hub-store-changes.c hub/hub-store-guard.c \
	hub/hub-store-list.c hub/hub-store-schema.c \
	hub/hub-store-db.h hub/hub-store-db-backend.h hub/hub-store-db.c hub/hub-store-pg.c
hub_libhub_la_CFLAGS += $(SQLITE_CFLAGS) $(CJSON_CFLAGS) $(LIBPQ_CFLAGS)
hub_libhub_la_LIBADD += hub/libhubscim.la common/libprovsql.la $(SQLITE_LIBS) $(CJSON_LIBS) $(LIBPQ_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-hub-store
TESTS += tests/unit/test-hub-store

tests_unit_test_hub_store_SOURCES = tests/unit/test-hub-store.c
tests_unit_test_hub_store_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_store_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CJSON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_store_LDADD = hub/libhub.la $(SQLITE_LIBS) $(CJSON_LIBS) $(CMOCKA_LIBS)
endif

# The hub's test programs once more on PostgreSQL (tests/hubpg/run-pg runs tests/hub/NAME.py for
# each NAME.pg with HUB_STORE=postgresql; the harness starts a real server for each program).
HUB_PG_TESTS = \
	tests/hubpg/test-hub-entra.pg \
	tests/hubpg/test-hub-entra-compliant.pg \
	tests/hubpg/test-hub-okta.pg \
	tests/hubpg/test-hub-onelogin.pg \
	tests/hubpg/test-hub-deactivation.pg \
	tests/hubpg/test-hub-auth.pg \
	tests/hubpg/test-hub-pull.pg \
	tests/hubpg/test-hub-batch.pg \
	tests/hubpg/test-hub-feed.pg \
	tests/hubpg/test-hub-lock.pg \
	tests/hubpg/test-hub-guard.pg \
	tests/hubpg/test-hub-fleet.pg \
	tests/hubpg/test-hub-scim-hostile.pg
TEST_EXTENSIONS = .pg
PG_LOG_COMPILER = $(top_srcdir)/tests/hubpg/run-pg
TESTS += $(HUB_PG_TESTS)
EXTRA_DIST += $(HUB_PG_TESTS) tests/hubpg/run-pg

# Replicas: two hubs on one PostgreSQL database (wake-ups, one sequence in commit order, SIGKILL
# of a replica under a follower, PostgreSQL down and back, the password kept out of sight).
# Hosts (provision-syncd with a logind mock each, tests/hubsync/) fail over between two replicas.
check_SCRIPTS += tests/hubpg/test-hub-replicas.py tests/hubpg/test-hub-failover.py
TESTS += tests/hubpg/test-hub-replicas.py tests/hubpg/test-hub-failover.py
EXTRA_DIST += tests/hubpg/test-hub-replicas.py tests/hubpg/test-hub-failover.py

# The replicas' benchmark (not part of make check).
EXTRA_DIST += bench/bench-hub-pg.py
