# common/ (see Makefile.am): libprovcache (the snapshot reader, libc only, linked into the NSS and
# PAM modules), libprovcommon (the snapshot and SSH keys writers and readers, the INI reader, the
# configuration, the validators; libc only), libprovsql (the one way into SQLite), their tests.

common_libprovcache_la_SOURCES += \
	common/prov-snapshot.h \
	common/snapshot-format.h \
	common/snapshot-read.c \
	common/snapshot-cache.c

common_libprovcommon_la_SOURCES += \
	common/prov-snapshot-write.h common/snapshot-write.c \
	common/prov-ini.h common/ini.c \
	common/prov-config.h common/config.c \
	common/prov-validate.h common/validate.c \
	common/prov-sshkeys.h common/sshkeys-write.c common/sshkeys-read.c

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

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-config tests/unit/test-validate
TESTS += tests/unit/test-config tests/unit/test-validate

tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_config_LDADD = common/libprovcommon.la $(CMOCKA_LIBS)

tests_unit_test_validate_SOURCES = tests/unit/test-validate.c
tests_unit_test_validate_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_validate_LDADD = common/libprovcommon.la $(CMOCKA_LIBS)
endif

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-snapshot
tests_unit_test_snapshot_SOURCES = tests/unit/test-snapshot.c
tests_unit_test_snapshot_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_snapshot_LDADD = common/libprovcommon.la $(CMOCKA_LIBS)
TESTS += tests/unit/test-snapshot
endif

# The cache's lock across fork(): thread A's first read lock held while the main thread forks.
check_PROGRAMS += tests/unit/test-cache-fork
tests_unit_test_cache_fork_SOURCES = tests/unit/test-cache-fork.c
tests_unit_test_cache_fork_LDADD = common/libprovcommon.la
tests_unit_test_cache_fork_LDFLAGS = -Wl,--wrap=pthread_rwlock_rdlock
TESTS += tests/unit/test-cache-fork


# Snapshot writer benchmark (peak RSS and time of one publish); built with the checks, never run
# by them.
check_PROGRAMS += bench/bench-snapshot-write
bench_bench_snapshot_write_SOURCES = bench/bench-snapshot-write.c
bench_bench_snapshot_write_LDADD = common/libprovcommon.la
