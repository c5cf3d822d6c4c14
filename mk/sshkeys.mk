# sshkeys/ (see Makefile.am): the AuthorizedKeysCommand helper and the tests of the SSH keys file
# published beside the snapshot (its writer and reader are in common/, see mk/common.mk).

# provision-ssh-keys: run by sshd as an unprivileged user. libc and the project's libc-only
# readers (snapshot and keys file) only, nothing of the daemon.
provisionlibexec_PROGRAMS = sshkeys/provision-ssh-keys
sshkeys_provision_ssh_keys_SOURCES = sshkeys/provision-ssh-keys.c
sshkeys_provision_ssh_keys_LDADD = common/libprovcommon.la

dist_man_MANS += man/provision-ssh-keys.8

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-sshkeys
TESTS += tests/unit/test-sshkeys
tests_unit_test_sshkeys_SOURCES = tests/unit/test-sshkeys.c
tests_unit_test_sshkeys_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sshkeys_LDADD = common/libprovcommon.la $(CMOCKA_LIBS)
endif

# The helper and the host's own accounts (tests/enforce): a local name gets no directory key.
check_PROGRAMS += tests/enforce/test-sshkeys-local
TESTS += tests/enforce/test-sshkeys-local
tests_enforce_test_sshkeys_local_SOURCES = tests/enforce/test-sshkeys-local.c $(NSS_TEST_UTIL)
tests_enforce_test_sshkeys_local_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/nss
tests_enforce_test_sshkeys_local_LDADD = common/libprovcommon.la
EXTRA_tests_enforce_test_sshkeys_local_DEPENDENCIES = sshkeys/provision-ssh-keys
