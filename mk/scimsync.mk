# SCIM sync integration tests (see Makefile.am): provision-syncd against the real SCIM test
# server (tests/scim-server), checked through the NSS module and the store. The benchmark
# (bench/bench-sync.sh) is run by hand, not by make check.

check_SCRIPTS += tests/scimsync/test-syncd-scim.py tests/scimsync/test-syncd-scim-hostile.py
TESTS += tests/scimsync/test-syncd-scim.py tests/scimsync/test-syncd-scim-hostile.py
EXTRA_DIST += tests/scimsync/test-syncd-scim.py tests/scimsync/test-syncd-scim-hostile.py tests/scimsync/scimharness.py bench/bench-sync.sh
