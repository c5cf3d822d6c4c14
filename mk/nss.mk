# nss_provision/ (see Makefile.am): the NSS module libnss_provision.so.2, its tests (tests/nss)
# and its benchmark.

# libnss_provision.so.2: libc + libprovcache only, only _nss_provision_* exported.
nss_LTLIBRARIES += nss_provision/libnss_provision.la
nss_provision_libnss_provision_la_SOURCES = nss_provision/nss-provision.c
nss_provision_libnss_provision_la_CFLAGS = $(AM_CFLAGS) -fPIC
nss_provision_libnss_provision_la_CPPFLAGS = $(PROV_READER_CPPFLAGS)
nss_provision_libnss_provision_la_LIBADD = common/libprovcache.la
# libtool appends its own -soname (libnss_provision.so) after ours, so the soname glibc dlopens
# comes from the shared-library suffix instead: the module is built and installed as
# libnss_provision.so.2 with that soname.
nss_provision_libnss_provision_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -shrext .so.2 \
	-Wl,--version-script=$(top_srcdir)/nss_provision/nss-provision.sym -Wl,--no-undefined
EXTRA_nss_provision_libnss_provision_la_DEPENDENCIES = $(top_srcdir)/nss_provision/nss-provision.sym
EXTRA_DIST += nss_provision/nss-provision.sym

# glibc loads NSS modules by soname: tests point LD_LIBRARY_PATH at nss_provision/.libs, where
# libnss_provision.so.2 is the library itself. Installed without the .la (nssdir has no "exec"
# in its name, so automake installs it with the data).
install-data-hook: install-nss-provision-hook
install-nss-provision-hook:
	rm -f $(DESTDIR)$(nssdir)/libnss_provision.la
uninstall-hook: uninstall-nss-provision-hook
uninstall-nss-provision-hook:
	rm -f $(DESTDIR)$(nssdir)/libnss_provision.so.2
.PHONY: install-nss-provision-hook uninstall-nss-provision-hook

# Tests. The NSS tests share a helper that builds snapshots from tests/nss/fixture.txt.
NSS_TEST_UTIL = tests/nss/nss-test-util.h tests/nss/nss-test-util.c
NSS_TEST_LIBS = common/libprovcommon.la
EXTRA_DIST += tests/nss/fixture.txt

check_PROGRAMS += tests/nss/mksnap
tests_nss_mksnap_SOURCES = tests/nss/mksnap.c $(NSS_TEST_UTIL)
tests_nss_mksnap_LDADD = $(NSS_TEST_LIBS)

check_PROGRAMS += tests/nss/test-nss-dlopen
tests_nss_test_nss_dlopen_SOURCES = tests/nss/test-nss-dlopen.c $(NSS_TEST_UTIL)
tests_nss_test_nss_dlopen_LDADD = $(NSS_TEST_LIBS) -ldl
TESTS += tests/nss/test-nss-dlopen

TESTS += tests/nss/test-nss-exports.sh
EXTRA_DIST += tests/nss/test-nss-exports.sh

check_PROGRAMS += tests/nss/test-nss-dispatch
tests_nss_test_nss_dispatch_SOURCES = tests/nss/test-nss-dispatch.c $(NSS_TEST_UTIL)
tests_nss_test_nss_dispatch_LDADD = $(NSS_TEST_LIBS)
TESTS += tests/nss/test-nss-dispatch

TESTS += tests/nss/test-nss-getent.sh
EXTRA_DIST += tests/nss/test-nss-getent.sh

TESTS += tests/nss/test-nss-perms.sh
EXTRA_DIST += tests/nss/test-nss-perms.sh

check_PROGRAMS += tests/nss/test-nss-concurrency
tests_nss_test_nss_concurrency_SOURCES = tests/nss/test-nss-concurrency.c $(NSS_TEST_UTIL)
tests_nss_test_nss_concurrency_LDADD = $(NSS_TEST_LIBS) -ldl -lpthread
TESTS += tests/nss/test-nss-concurrency

# Benchmark (bench/run-nss.sh); built with the checks so that it keeps compiling, never run by them.
check_PROGRAMS += bench/bench-nss
bench_bench_nss_SOURCES = bench/bench-nss.c
bench_bench_nss_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
bench_bench_nss_LDADD = common/libprovcommon.la $(SQLITE_LIBS)
EXTRA_DIST += bench/run-nss.sh bench/nss-floor.c
dist_man_MANS += man/libnss_provision.8
