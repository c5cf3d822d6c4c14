# provision-hub: the SCIM service provider IdPs push to (see Makefile.am).

# libhub: everything of provision-hub but main(), so that the unit tests link it.
noinst_LTLIBRARIES += hub/libhub.la
hub_libhub_la_SOURCES = \
	hub/hub-util.h hub/hub-util.c \
	hub/hub-config.h hub/hub-config.c \
	hub/hub-tokens.h hub/hub-tokens.c \
	hub/hub-http.h hub/hub-http-internal.h hub/hub-http.c hub/hub-http-feed.c \
	hub/hub-handlers.c \
	hub/hub-feed.h hub/hub-feed.c \
	hub/hub-admin.c \
	hub/hub-fleet.h hub/hub-fleet.c \
	syncd/log.h syncd/log.c
hub_libhub_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
hub_libhub_la_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS) $(MHD_CFLAGS) $(CJSON_CFLAGS) $(SYSTEMD_CFLAGS)
# libprovcommon comes through libhubscim (mk/hub-store.mk), which carries one copy of it.
hub_libhub_la_LIBADD = $(GNUTLS_LIBS) $(MHD_LIBS) $(CJSON_LIBS) $(SYSTEMD_LIBS)

sbin_PROGRAMS += hub/provision-hub
hub_provision_hub_SOURCES = hub/provision-hub.c
hub_provision_hub_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
hub_provision_hub_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(SYSTEMD_CFLAGS)
hub_provision_hub_LDADD = hub/libhub.la

# The fleet simulator of bench/bench-feed.py (epoll and GnuTLS; not a test, never run by make check).
noinst_PROGRAMS += bench/bench-feed-client
bench_bench_feed_client_SOURCES = bench/bench-feed-client.c
bench_bench_feed_client_CFLAGS = $(AM_CFLAGS) $(GNUTLS_CFLAGS)
bench_bench_feed_client_LDADD = $(GNUTLS_LIBS)
EXTRA_DIST += bench/bench-feed.py

# The smoke test: the real hub on 127.0.0.1:0, a user created, read back, 401 without a token;
# and the TLS test (certtool's self-signed pair: https answers, plain http on that port does not).
check_SCRIPTS += tests/hub/test-hub-smoke.py tests/hub/test-hub-tls.py
TESTS += tests/hub/test-hub-smoke.py tests/hub/test-hub-tls.py
EXTRA_DIST += tests/hub/test-hub-smoke.py tests/hub/test-hub-tls.py

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
