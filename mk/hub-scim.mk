# The hub's SCIM engine (see Makefile.am): errors, filters, PATCH, resource normalisation. Pure
# functions on cJSON, no I/O; the hub's HTTP handlers link it. It validates with the hosts' own
# parser (syncd/libprovscimparse.la), so that nothing the hub accepts is refused by a host.
noinst_LTLIBRARIES += hub/libhubscim.la
hub_libhubscim_la_SOURCES = \
	hub/scim-error.h hub/scim-error.c \
	hub/scim-filter.h hub/scim-filter.c \
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
