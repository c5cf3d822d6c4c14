# Tests of provision-hub against the real hub process (see Makefile.am): the conformance suite
# replays what Entra ID (both dialects), Okta and OneLogin/JumpCloud send and checks the state by
# GET; test-hub-auth covers tokens by role and bad bodies; test-hub-pull has the existing
# provision-syncd SCIM source follow the hub; test-hub-batch covers group commit. Each skips (77) while hub/provision-hub is not
# built. tests/hub/hubharness.py is their shared helper.

HUB_CONFORMANCE_TESTS = \
	tests/hub/test-hub-entra.py \
	tests/hub/test-hub-entra-compliant.py \
	tests/hub/test-hub-okta.py \
	tests/hub/test-hub-onelogin.py \
	tests/hub/test-hub-deactivation.py \
	tests/hub/test-hub-auth.py \
	tests/hub/test-hub-pull.py \
	tests/hub/test-hub-batch.py \
	tests/hub/test-hub-feed.py \
	tests/hub/test-hub-feed-abuse.py \
	tests/hub/test-hub-lock.py \
	tests/hub/test-hub-fleet.py \
	tests/hub/test-hub-guard.py \
	tests/hub/test-hub-scim-hostile.py
check_SCRIPTS += $(HUB_CONFORMANCE_TESTS)
TESTS += $(HUB_CONFORMANCE_TESTS)
EXTRA_DIST += $(HUB_CONFORMANCE_TESTS) tests/hub/hubharness.py
