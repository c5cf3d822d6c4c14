# syncd/ (see Makefile.am): provision-syncd, its libraries and their tests. libsyncd is everything
# of the daemon but main(); libprovstore (the store, the log, the host's own accounts, the
# configuration loader) is what provisionctl links; libprovscimparse is the SCIM parser the hub
# shares.

syncd_libsyncd_la_SOURCES += \
	syncd/sync.h syncd/sync-internal.h syncd/sync.c \
	syncd/sync-map.c syncd/sync-apply.c syncd/sync-actions.c syncd/sync-export.c syncd/sync-hub.c \
	syncd/daemon.h syncd/daemon.c syncd/bus-names.h \
	syncd/refresh.h syncd/refresh.c

sbin_PROGRAMS += syncd/provision-syncd
syncd_provision_syncd_SOURCES = syncd/main.c
syncd_provision_syncd_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
syncd_provision_syncd_LDADD = syncd/libsyncd.la

dist_man_MANS += man/provision-syncd.8

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-sync-engine
TESTS += tests/unit/test-sync-engine
tests_unit_test_sync_engine_SOURCES = tests/unit/test-sync-engine.c
tests_unit_test_sync_engine_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sync_engine_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)
endif

check_SCRIPTS += tests/syncd-file/test-syncd-file.sh tests/syncd-file/test-syncd-daemon.py
TESTS += tests/syncd-file/test-syncd-file.sh tests/syncd-file/test-syncd-daemon.py
EXTRA_DIST += tests/syncd-file/test-syncd-file.sh tests/syncd-file/test-syncd-daemon.py scripts/setup-deps.sh scripts/build.sh scripts/test.sh \
	scripts/summarize-tests.sh scripts/demo.sh

# A snapshot this build cannot open (a format change, none) is published from the store at start,
# before a first sync that may fail (issue 17).
check_SCRIPTS += tests/syncd-file/test-syncd-republish.py
TESTS += tests/syncd-file/test-syncd-republish.py
EXTRA_DIST += tests/syncd-file/test-syncd-republish.py

# Subordinate id ranges end to end: the real daemon on a Debian-like /etc/subuid (issue 20).
check_SCRIPTS += tests/syncd-file/test-subid.py
TESTS += tests/syncd-file/test-subid.py
EXTRA_DIST += tests/syncd-file/test-subid.py

# The host's own accounts change after mapping (useradd, delgroup): republished; a directory
# file that another user than root may write is refused.
check_SCRIPTS += tests/syncd-file/test-local-host.py
TESTS += tests/syncd-file/test-local-host.py
EXTRA_DIST += tests/syncd-file/test-local-host.py

# The audit log's retention ([sync] audit_retention): pruned after a sync, once a day at most.
check_SCRIPTS += tests/syncd-file/test-audit-retention.py
TESTS += tests/syncd-file/test-audit-retention.py
EXTRA_DIST += tests/syncd-file/test-audit-retention.py

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

# libprovscimparse: the SCIM JSON parser alone (arena, id hash, parser; cJSON and libprovcommon's
# validators), so that the hub validates what it accepts with the very rules the hosts apply
# without linking libcurl or sd-bus. libsyncd takes it whole; whoever links it also links
# common/libprovcommon.la (not added here: libsyncd already carries one copy of it).
noinst_LTLIBRARIES += syncd/libprovscimparse.la
syncd_libprovscimparse_la_SOURCES = \
	syncd/arena.h syncd/arena.c \
	syncd/idhash.h syncd/idhash.c \
	syncd/scim-parse.h syncd/scim-parse.c \
	syncd/scim-json.h syncd/scim-json.c \
	syncd/scim-parse-internal.h syncd/scim-parse-doc.c
syncd_libprovscimparse_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
syncd_libprovscimparse_la_LIBADD = $(CJSON_LIBS)

syncd_libsyncd_la_LIBADD += syncd/libprovscimparse.la

dist_man_MANS += man/provision-syncd.conf.5

EXTRA_DIST += \
	syncd/syncd.conf.sample \
	tests/fixtures/scim/bad-resources.json \
	tests/fixtures/scim/directory-arrays.json \
	tests/fixtures/scim/directory-listresponse.json \
	tests/fixtures/scim/empty-object.json \
	tests/fixtures/scim/entra-user.json \
	tests/fixtures/scim/error-response.json \
	tests/fixtures/scim/posix-user.json \
	tests/fixtures/scim/sample-directory.json \
	tests/fixtures/scim/truncated.json \
	tests/fixtures/scim/users-empty-page.json \
	tests/fixtures/scim/users-page.json \
	tests/fixtures/file-source.conf \
	tests/fixtures/full.conf

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-arena tests/unit/test-idhash tests/unit/test-scim-parse
TESTS += tests/unit/test-arena tests/unit/test-idhash tests/unit/test-scim-parse

tests_unit_test_arena_SOURCES = tests/unit/test-arena.c
tests_unit_test_arena_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_arena_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)

tests_unit_test_idhash_SOURCES = tests/unit/test-idhash.c
tests_unit_test_idhash_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_idhash_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)

tests_unit_test_scim_parse_SOURCES = tests/unit/test-scim-parse.c
tests_unit_test_scim_parse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_scim_parse_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)
endif

# The daemon's D-Bus control interface (org.provision.Syncd1; provisionctl is its client).
syncd_libsyncd_la_SOURCES += syncd/bus.c

# The SCIM source: the libcurl client and its tests against the Node SCIM test server
# (tests/scim-server).
syncd_libsyncd_la_SOURCES += \
	syncd/scim-source.h syncd/scim-source.c syncd/scim-client-internal.h syncd/scim-client.c

check_SCRIPTS += tests/scim-client/test-scim-source.sh
TESTS += tests/scim-client/test-scim-source.sh
EXTRA_DIST += tests/scim-client/test-scim-source.sh tests/fixtures/scim/bench-gen.py bench/bench-scim-fetch.sh \
	tests/scim-client/fake-proxy.py

if HAVE_CMOCKA
check_PROGRAMS += tests/scim-client/test-scim-source
tests_scim_client_test_scim_source_SOURCES = tests/scim-client/test-scim-source.c
tests_scim_client_test_scim_source_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(CMOCKA_CFLAGS)
tests_scim_client_test_scim_source_LDADD = syncd/libsyncd.la $(CURL_LIBS) $(CMOCKA_LIBS)
endif

# Enforcement: logind session termination, process kill, nscd, hooks.
syncd_libsyncd_la_SOURCES += syncd/enforce.h syncd/enforce.c syncd/child.h syncd/child.c

EXTRA_DIST += doc/enforcement.md

# The kill test needs root (exit 77 otherwise); the other cases run on a private system bus
# with the logind mock (tests/lib/logindbus.py starts both).
check_PROGRAMS += tests/enforce/test-enforce-kill
TESTS += tests/enforce/test-enforce-kill
tests_enforce_test_enforce_kill_SOURCES = tests/enforce/test-enforce-kill.c
tests_enforce_test_enforce_kill_LDADD = syncd/libsyncd.la

if HAVE_CMOCKA
check_PROGRAMS += tests/enforce/test-enforce
check_SCRIPTS += tests/enforce/test-enforce.sh
TESTS += tests/enforce/test-enforce.sh
tests_enforce_test_enforce_SOURCES = tests/enforce/test-enforce.c
tests_enforce_test_enforce_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_enforce_test_enforce_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)
endif

EXTRA_DIST += tests/enforce/test-enforce.sh
# The private bus with the logind mock, for the tests, the benchmarks and the demo.
EXTRA_DIST += tests/lib/logindbus.py tests/lib/logind-mock.py
# provision-syncd started as systemd starts a Type=notify unit, for the daemon tests.
EXTRA_DIST += tests/lib/syncdnotify.py

# provision-syncd against the real SCIM test server (tests/scim-server), checked through the NSS
# module and the store. The benchmark (bench/bench-sync.sh) is run by hand, not by make check.
check_SCRIPTS += tests/syncd-scim/test-syncd-scim.py tests/syncd-scim/test-syncd-scim-hostile.py
TESTS += tests/syncd-scim/test-syncd-scim.py tests/syncd-scim/test-syncd-scim-hostile.py
EXTRA_DIST += tests/syncd-scim/test-syncd-scim.py tests/syncd-scim/test-syncd-scim-hostile.py tests/syncd-scim/scimharness.py bench/bench-sync.sh

# A /Groups walk that adds up but misses groups (a repeated page, a lying totalResults).
check_SCRIPTS += tests/syncd-scim/test-syncd-scim-upstream.py
TESTS += tests/syncd-scim/test-syncd-scim-upstream.py
EXTRA_DIST += tests/syncd-scim/test-syncd-scim-upstream.py
