# provision-hub: the SCIM service provider IdPs push to (see Makefile.am).

# libhub: everything of provision-hub but main(), so that the unit tests link it.
noinst_LTLIBRARIES += hub/libhub.la
hub_libhub_la_SOURCES = \
	hub/hub-util.h hub/hub-util.c \
	hub/hub-config.h hub/hub-config.c \
	hub/hub-tokens.h hub/hub-tokens.c
hub_libhub_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
hub_libhub_la_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
hub_libhub_la_LIBADD = common/libprovcommon.la $(GNUTLS_LIBS)

EXTRA_DIST += hub/hub.conf.sample

if HAVE_CMOCKA
HUB_UNIT_TESTS = tests/unit/test-hub-config tests/unit/test-hub-tokens
check_PROGRAMS += $(HUB_UNIT_TESTS)
TESTS += $(HUB_UNIT_TESTS)

tests_unit_test_hub_config_SOURCES = tests/unit/test-hub-config.c
tests_unit_test_hub_config_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_config_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_config_LDADD = hub/libhub.la $(CMOCKA_LIBS)

tests_unit_test_hub_tokens_SOURCES = tests/unit/test-hub-tokens.c
tests_unit_test_hub_tokens_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_tokens_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_tokens_LDADD = hub/libhub.la $(CMOCKA_LIBS)
endif
