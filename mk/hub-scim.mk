# The hub's SCIM engine (see Makefile.am): errors, filters, PATCH, resource normalisation. Pure
# functions on cJSON, no I/O; the hub's HTTP handlers link it. It validates with the hosts' own
# parser (syncd/libprovscimparse.la), so that nothing the hub accepts is refused by a host.
noinst_LTLIBRARIES += hub/libhubscim.la
hub_libhubscim_la_SOURCES = \
	hub/scim-error.h hub/scim-error.c \
	hub/scim-filter.h hub/scim-filter.c hub/scim-filter-match.c \
	hub/scim-patch.h hub/scim-patch.c \
	hub/scim-resource.h hub/scim-resource.c
hub_libhubscim_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
hub_libhubscim_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
hub_libhubscim_la_LIBADD = syncd/libprovscimparse.la common/libprovcommon.la $(CJSON_LIBS)

if HAVE_CMOCKA
HUB_SCIM_TESTS = tests/unit/test-hub-filter tests/unit/test-hub-patch tests/unit/test-hub-resource
check_PROGRAMS += $(HUB_SCIM_TESTS)
TESTS += $(HUB_SCIM_TESTS)

tests_unit_test_hub_filter_SOURCES = tests/unit/test-hub-filter.c
tests_unit_test_hub_filter_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_filter_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_filter_LDADD = hub/libhubscim.la $(CMOCKA_LIBS)

tests_unit_test_hub_resource_SOURCES = tests/unit/test-hub-resource.c
tests_unit_test_hub_resource_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_resource_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_resource_LDADD = hub/libhubscim.la $(CMOCKA_LIBS)

tests_unit_test_hub_patch_SOURCES = tests/unit/test-hub-patch.c
tests_unit_test_hub_patch_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_patch_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_patch_LDADD = hub/libhubscim.la $(CMOCKA_LIBS)
endif

# Fuzz harnesses of the filter and PATCH parsers: under `make check` each replays its seed corpus
# (tests/fuzz/corpus/<name>/) through tests/fuzz/fuzz-main.c, as those of mk/robust.mk do;
# tests/fuzz/run-fuzzers.sh fuzzes them with clang.
HUB_SCIM_FUZZERS = tests/fuzz/fuzz-hub-filter tests/fuzz/fuzz-hub-patch tests/fuzz/fuzz-hub-resource
check_PROGRAMS += $(HUB_SCIM_FUZZERS)
TESTS += $(HUB_SCIM_FUZZERS)
tests_fuzz_fuzz_hub_filter_SOURCES = tests/fuzz/fuzz-hub-filter.c $(FUZZ_COMMON)
tests_fuzz_fuzz_hub_filter_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub -I$(top_srcdir)/tests/fuzz
tests_fuzz_fuzz_hub_filter_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
tests_fuzz_fuzz_hub_filter_LDADD = hub/libhubscim.la
tests_fuzz_fuzz_hub_patch_SOURCES = tests/fuzz/fuzz-hub-patch.c $(FUZZ_COMMON)
tests_fuzz_fuzz_hub_patch_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub -I$(top_srcdir)/tests/fuzz
tests_fuzz_fuzz_hub_patch_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
tests_fuzz_fuzz_hub_patch_LDADD = hub/libhubscim.la
tests_fuzz_fuzz_hub_resource_SOURCES = tests/fuzz/fuzz-hub-resource.c $(FUZZ_COMMON)
tests_fuzz_fuzz_hub_resource_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub -I$(top_srcdir)/tests/fuzz
tests_fuzz_fuzz_hub_resource_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
tests_fuzz_fuzz_hub_resource_LDADD = hub/libhubscim.la
