# provision-syncd following the real provision-hub's change feed ([source] type = hub, issue 15;
# see Makefile.am): the hub started by tests/hub/hubharness.py (used read-only), the daemon in a
# private state directory, the logind mock of tests/enforce on a private bus. Skips (77) while the
# hub or the syncd is not built, or the hub has no /v1/feed.

check_SCRIPTS += tests/hubsync/test-syncd-hub.py
TESTS += tests/hubsync/test-syncd-hub.py
EXTRA_DIST += tests/hubsync/test-syncd-hub.py tests/hubsync/hubsyncharness.py

# A fleet: the hub and four daemons, each on its own bus with its own logind mock: joiner, mover,
# leaver and lock on every host, acks and the fleet report (a frozen host lagging), the hub
# restarted under held requests, every store equal to the hub at the end.
check_SCRIPTS += tests/hubsync/test-syncd-hub-fleet.py
TESTS += tests/hubsync/test-syncd-hub-fleet.py
EXTRA_DIST += tests/hubsync/test-syncd-hub-fleet.py

# Answers the real hub does not give on demand (a seq going back, a malformed event, 503, 401,
# a 5xx replica), from a scripted server: what the host applies (nothing) and says.
check_SCRIPTS += tests/hubsync/test-syncd-hub-faults.py
TESTS += tests/hubsync/test-syncd-hub-faults.py
EXTRA_DIST += tests/hubsync/test-syncd-hub-faults.py

# The feed answer's parser (syncd/scim-parse.c): order, refusals, seqs, bounds.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-feed-parse
TESTS += tests/unit/test-feed-parse
tests_unit_test_feed_parse_SOURCES = tests/unit/test-feed-parse.c
tests_unit_test_feed_parse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_feed_parse_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)
endif
