# store rules (see Makefile.am)

# libprovsql: the one way into SQLite (common/prov-sql.h), for the host's store and the hub's.
noinst_LTLIBRARIES += common/libprovsql.la
common_libprovsql_la_SOURCES = common/prov-sql.h common/sql.c
common_libprovsql_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
common_libprovsql_la_LIBADD = $(SQLITE_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-sql
TESTS += tests/unit/test-sql
tests_unit_test_sql_SOURCES = tests/unit/test-sql.c
tests_unit_test_sql_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sql_LDADD = common/libprovsql.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
endif

# libprovstore: the store, and what its callers share around it (the log, the host's own
# accounts, the one configuration loader). provisionctl links this, not libsyncd: no libcurl,
# no cJSON in the CLI.
noinst_LTLIBRARIES += syncd/libprovstore.la
syncd_libprovstore_la_SOURCES = syncd/store.h syncd/store-internal.h syncd/store.c syncd/store-schema.c \
	syncd/store-accounts.c syncd/store-ledger.c syncd/store-log.c \
	syncd/log.h syncd/log.c \
	syncd/local.h syncd/local.c \
	syncd/host-config.h syncd/host-config.c
syncd_libprovstore_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(SYSTEMD_CFLAGS)
syncd_libprovstore_la_LIBADD = common/libprovsql.la $(SQLITE_LIBS) $(SYSTEMD_LIBS)
syncd_libsyncd_la_LIBADD += syncd/libprovstore.la

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-store
TESTS += tests/unit/test-store
tests_unit_test_store_SOURCES = tests/unit/test-store.c
tests_unit_test_store_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_store_LDADD = syncd/libsyncd.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
endif

# Subordinate id ranges (syncd/local.c) and the allocator skipping them (syncd/store.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-subid
TESTS += tests/unit/test-subid
tests_unit_test_subid_SOURCES = tests/unit/test-subid.c
tests_unit_test_subid_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_subid_LDADD = syncd/libsyncd.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
endif
