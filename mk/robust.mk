# robustness rules (see Makefile.am and doc/robustness.md): fuzz harnesses, the hostile-input
# corpus, crash consistency, disk full, and the scripts of the sanitizer, valgrind and soak stages.

# Fuzz harnesses. Built here with the normal compiler and tests/fuzz/fuzz-main.c, each replays
# its seed corpus (tests/fuzz/corpus/<name>/) under `make check`; tests/fuzz/run-fuzzers.sh builds
# the same sources with clang -fsanitize=fuzzer,address,undefined and fuzzes.
FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/fuzz-util.c tests/fuzz/fuzz-main.c
FUZZ_SCIM = $(FUZZ_COMMON) tests/fuzz/fuzz-scim.h tests/fuzz/fuzz-scim-common.c
FUZZ_SCIM_HARNESSES = tests/fuzz/fuzz-scim-directory tests/fuzz/fuzz-scim-list tests/fuzz/fuzz-scim-user \
	tests/fuzz/fuzz-scim-service-config tests/fuzz/fuzz-scim-hub
FUZZ_HARNESSES = $(FUZZ_SCIM_HARNESSES) tests/fuzz/fuzz-config tests/fuzz/fuzz-snapshot tests/fuzz/fuzz-nss
check_PROGRAMS += $(FUZZ_HARNESSES)
TESTS += $(FUZZ_HARNESSES)

tests_fuzz_fuzz_scim_directory_SOURCES = tests/fuzz/fuzz-scim-directory.c $(FUZZ_SCIM)
tests_fuzz_fuzz_scim_directory_LDADD = syncd/libsyncd.la
tests_fuzz_fuzz_scim_list_SOURCES = tests/fuzz/fuzz-scim-list.c $(FUZZ_SCIM)
tests_fuzz_fuzz_scim_list_LDADD = syncd/libsyncd.la
tests_fuzz_fuzz_scim_user_SOURCES = tests/fuzz/fuzz-scim-user.c $(FUZZ_SCIM)
tests_fuzz_fuzz_scim_user_LDADD = syncd/libsyncd.la
tests_fuzz_fuzz_scim_service_config_SOURCES = tests/fuzz/fuzz-scim-service-config.c $(FUZZ_SCIM)
tests_fuzz_fuzz_scim_service_config_LDADD = syncd/libsyncd.la
tests_fuzz_fuzz_scim_hub_SOURCES = tests/fuzz/fuzz-scim-hub.c $(FUZZ_SCIM)
tests_fuzz_fuzz_scim_hub_LDADD = syncd/libsyncd.la
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c $(FUZZ_COMMON)
tests_fuzz_fuzz_config_LDADD = common/libprovcommon.la
tests_fuzz_fuzz_snapshot_SOURCES = tests/fuzz/fuzz-snapshot.c $(FUZZ_COMMON)
tests_fuzz_fuzz_snapshot_LDADD = common/libprovcache.la
# The NSS module's source itself, linked into the harness, so that its entry points are called
# directly (and instrumented with it).
tests_fuzz_fuzz_nss_SOURCES = tests/fuzz/fuzz-nss.c nss_provision/nss-provision.c $(FUZZ_COMMON)
tests_fuzz_fuzz_nss_LDADD = common/libprovcache.la -lpthread
tests_fuzz_fuzz_nss_CPPFLAGS = $(PROV_READER_CPPFLAGS)

EXTRA_DIST += tests/fuzz/corpus tests/fuzz/run-fuzzers.sh tests/fuzz/make-snapshot-seeds.sh doc/robustness.md

# A checker that reads every record of a snapshot and prints a digest of its content.
check_PROGRAMS += tests/robust/snapcheck
tests_robust_snapcheck_SOURCES = tests/robust/snapcheck.c
tests_robust_snapcheck_LDADD = common/libprovcache.la

# Hostile-input corpus: one table-driven test, each case a directory file given to
# provision-syncd --once (tests/robust/test-hostile.py lists them).
check_SCRIPTS += tests/robust/test-hostile.py
TESTS += tests/robust/test-hostile.py
EXTRA_DIST += tests/robust/test-hostile.py

# The NSS module releases its cache when unloaded.
check_PROGRAMS += tests/robust/test-nss-unload
TESTS += tests/robust/test-nss-unload
tests_robust_test_nss_unload_SOURCES = tests/robust/test-nss-unload.c $(NSS_TEST_UTIL)
tests_robust_test_nss_unload_LDADD = $(NSS_TEST_LIBS) -ldl

# Crash consistency: SIGKILL at random points of a sync and during publication. make check runs
# a small directory (5000 users, 10 kills); the CI stage runs CRASH_USERS=100000 CRASH_KILLS=20.
check_SCRIPTS += tests/robust/test-crash.sh
TESTS += tests/robust/test-crash.sh
EXTRA_DIST += tests/robust/test-crash.sh

# Full and read-only state directory (a tmpfs in a private mount namespace; root only, skips
# otherwise after checking an unopenable store).
check_SCRIPTS += tests/robust/test-diskfull.sh
TESTS += tests/robust/test-diskfull.sh
EXTRA_DIST += tests/robust/test-diskfull.sh

# Soak (tests/robust/soak.sh, a CI stage and a manual command, not part of make check): its
# lookup program is built with the checks.
check_PROGRAMS += tests/robust/soak-lookup
tests_robust_soak_lookup_SOURCES = tests/robust/soak-lookup.c
EXTRA_DIST += tests/robust/soak.sh
