# The hub's fleet page below /ui (issue 18): headers, views and dispatch (hub-web.c), sessions and
# the checks of each request (hub-web-auth.c), what it reads (hub-web-data.c), its HTML
# (hub-web-render.c), and its one stylesheet, script and icon, compiled into the hub
# (hub-web-assets.c, generated from hub/web/ by hub/web/embed.sh).
hub_libhub_la_SOURCES += hub/hub-web.h hub/hub-web-internal.h hub/hub-web.c hub/hub-web-auth.c hub/hub-web-data.c \
	hub/hub-web-render.c
nodist_hub_libhub_la_SOURCES = hub/hub-web-assets.c
CLEANFILES += hub/hub-web-assets.c
EXTRA_DIST += hub/web/embed.sh hub/web/hub-web.css hub/web/hub-web.js hub/web/favicon.svg

hub/hub-web-assets.c: $(srcdir)/hub/web/embed.sh $(srcdir)/hub/web/hub-web.css $(srcdir)/hub/web/hub-web.js \
		$(srcdir)/hub/web/favicon.svg
	$(AM_V_GEN)$(MKDIR_P) hub && \
	$(SHELL) $(srcdir)/hub/web/embed.sh $(srcdir)/hub/web/hub-web.css hub_web_css \
		$(srcdir)/hub/web/hub-web.js hub_web_js $(srcdir)/hub/web/favicon.svg hub_web_icon >$@.tmp && mv $@.tmp $@
EXTRA_DIST += mk/hub-web.mk doc/screenshots/fleet.png doc/screenshots/leaver.png doc/screenshots/search.png \
	doc/screenshots/approve.png doc/screenshots/login.png

# The page in Debian's Chromium (playwright-core from tests/package-lock.json) against the real hub
# and three real provision-syncd hosts: sign-in, a leaver gone on all hosts live, lock-now, search,
# approve, no JavaScript; and over plain HTTP every way in refused without a session.
# The same on PostgreSQL (test-hub-web-pg.sh).
check_SCRIPTS += tests/web/test-hub-web.py tests/web/test-hub-web-pg.sh
TESTS += tests/web/test-hub-web.py tests/web/test-hub-web-pg.sh
EXTRA_DIST += tests/web/test-hub-web.py tests/web/test-hub-web-pg.sh tests/web/hub-web-browser.js

# The page's data and HTML without a browser: quarantine risk from audit rows, progress words,
# hostile names escaped in every table.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-hub-web
TESTS += tests/unit/test-hub-web
tests_unit_test_hub_web_SOURCES = tests/unit/test-hub-web.c
tests_unit_test_hub_web_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_web_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_web_LDADD = hub/libhub.la $(CJSON_LIBS) $(CMOCKA_LIBS)
endif
