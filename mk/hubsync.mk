# provision-syncd following the real provision-hub's change feed ([source] type = hub, issue 15;
# see Makefile.am): the hub started by tests/hub/hubharness.py (used read-only), the daemon in a
# private state directory, the logind mock of tests/enforce on a private bus. Skips (77) while the
# hub or the syncd is not built, or the hub has no /v1/feed.

check_SCRIPTS += tests/hubsync/test-syncd-hub.py
TESTS += tests/hubsync/test-syncd-hub.py
EXTRA_DIST += tests/hubsync/test-syncd-hub.py
