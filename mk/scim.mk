# SCIM source rules (see Makefile.am): the libcurl client of provision-syncd and its tests
# against the Node SCIM test server (tests/scim-server).

syncd_libsyncd_la_SOURCES += \
	syncd/scim-source.h syncd/scim-source.c syncd/scim-client-internal.h syncd/scim-client.c

check_SCRIPTS += tests/scim/test-scim-source.sh
TESTS += tests/scim/test-scim-source.sh
EXTRA_DIST += tests/scim/test-scim-source.sh tests/fixtures/scim/bench-gen.py bench/bench-scim-fetch.sh \
	tests/scim/fake-proxy.py

if HAVE_CMOCKA
check_PROGRAMS += tests/scim/test-scim-source
tests_scim_test_scim_source_SOURCES = tests/scim/test-scim-source.c
tests_scim_test_scim_source_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(CMOCKA_CFLAGS)
tests_scim_test_scim_source_LDADD = syncd/libsyncd.la $(CURL_LIBS) $(CMOCKA_LIBS)
endif
