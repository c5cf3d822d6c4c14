# e2e rules (see Makefile.am): end-to-end tests of leaver enforcement with real daemons.

# A real sshd on 127.0.0.1 in a private mount namespace (root only, exit 77 otherwise or without
# openssh-server): key logins of provisioned users, refused after a sync that suspends or removes
# them, a live session ended. The host's /etc and library directory are checked unchanged.
check_SCRIPTS += tests/e2e/test-sshd.sh
TESTS += tests/e2e/test-sshd.sh
EXTRA_DIST += tests/e2e/test-sshd.sh

# The leaver latency benchmark (bench/bench-leaver.sh BUILDDIR): not part of "make check", it
# takes minutes and prints numbers.
EXTRA_DIST += bench/bench-leaver.sh bench/bench-leaver.py
