# provision-syncd: the daemon (see Makefile.am)
syncd_libsyncd_la_SOURCES += \
	syncd/sync.h syncd/sync-internal.h syncd/sync.c \
	syncd/sync-map.c syncd/sync-apply.c syncd/sync-export.c syncd/sync-hub.c \
	syncd/daemon.h syncd/daemon.c syncd/bus-names.h \
	syncd/refresh.h syncd/refresh.c

sbin_PROGRAMS += syncd/provision-syncd
syncd_provision_syncd_SOURCES = syncd/main.c
syncd_provision_syncd_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
syncd_provision_syncd_LDADD = syncd/libsyncd.la

dist_man_MANS += man/provision-syncd.8

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-sync
TESTS += tests/unit/test-sync
tests_unit_test_sync_SOURCES = tests/unit/test-sync.c
tests_unit_test_sync_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sync_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)
endif

check_SCRIPTS += tests/sync/test-syncd-file.sh tests/sync/test-syncd-daemon.py
TESTS += tests/sync/test-syncd-file.sh tests/sync/test-syncd-daemon.py
EXTRA_DIST += tests/sync/test-syncd-file.sh tests/sync/test-syncd-daemon.py scripts/setup-deps.sh scripts/build.sh scripts/test.sh \
	scripts/summarize-tests.sh scripts/demo.sh

# Subordinate id ranges end to end: the real daemon on a Debian-like /etc/subuid (issue 20).
check_SCRIPTS += tests/sync/test-subid.py
TESTS += tests/sync/test-subid.py
EXTRA_DIST += tests/sync/test-subid.py

# The audit log's retention ([sync] audit_retention): pruned after a sync, once a day at most.
check_SCRIPTS += tests/sync/test-audit-retention.py
TESTS += tests/sync/test-audit-retention.py
EXTRA_DIST += tests/sync/test-audit-retention.py
