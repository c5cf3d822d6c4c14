# The README's first command, scripts/demo.sh, run by the test suite (see Makefile.am). The
# test skips (77) without root, node_modules, dbus-daemon/dbusmock or pam_wrapper.
check_SCRIPTS += tests/demo/test-demo.sh
TESTS += tests/demo/test-demo.sh

EXTRA_DIST += tests/demo/test-demo.sh demo/sessions.py demo/store-view.py
