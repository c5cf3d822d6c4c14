# pam rules (see Makefile.am): the PAM module pam_provision.so, its man page, the Debian
# pam-auth-update profile, and the tests through real Linux-PAM.

# pam_provision.so: libc + libpam + libprovcache only, only pam_sm_* exported.
pam_LTLIBRARIES += pam_provision/pam_provision.la
pam_provision_pam_provision_la_SOURCES = pam_provision/pam-provision.c
pam_provision_pam_provision_la_CFLAGS = $(AM_CFLAGS) $(PAM_CFLAGS) -fPIC
pam_provision_pam_provision_la_CPPFLAGS = $(PROV_READER_CPPFLAGS)
pam_provision_pam_provision_la_LIBADD = common/libprovcache.la $(PAM_LIBS)
pam_provision_pam_provision_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-Wl,--version-script=$(top_srcdir)/pam_provision/pam-provision.sym -Wl,--no-undefined
EXTRA_pam_provision_pam_provision_la_DEPENDENCIES = $(top_srcdir)/pam_provision/pam-provision.sym
EXTRA_DIST += pam_provision/pam-provision.sym pam-configs/provision

dist_man_MANS += man/pam_provision.8

# Linux-PAM loads modules by file name: no .la next to them.
install-data-hook: install-pam-provision-hook
install-pam-provision-hook:
	rm -f $(DESTDIR)$(pamdir)/pam_provision.la
# Without its .la, libtool's uninstall does not know the module: remove it ourselves.
uninstall-hook: uninstall-pam-provision-hook
uninstall-pam-provision-hook:
	rm -f $(DESTDIR)$(pamdir)/pam_provision.so
.PHONY: install-pam-provision-hook uninstall-pam-provision-hook

# Tests. test-pam.sh writes its snapshots with tests/nss/mksnap.

check_PROGRAMS += tests/pam/test-pam-direct
tests_pam_test_pam_direct_SOURCES = tests/pam/test-pam-direct.c
tests_pam_test_pam_direct_CFLAGS = $(AM_CFLAGS) $(PAM_CFLAGS)
tests_pam_test_pam_direct_LDADD = common/libprovcommon.la $(PAM_LIBS)
TESTS += tests/pam/test-pam-direct

check_SCRIPTS += tests/pam/test-pam.sh tests/pam/test-pam-exports.sh
TESTS += tests/pam/test-pam.sh tests/pam/test-pam-exports.sh
EXTRA_DIST += tests/pam/test-pam.sh tests/pam/test-pam-exports.sh

# refresh_on_login end to end: the real daemon, the SCIM test server and the module under
# pam_wrapper (issue 19 item 3). Uses tests/syncd-scim/scimharness.py.
check_SCRIPTS += tests/pam/test-refresh.py
TESTS += tests/pam/test-refresh.py
EXTRA_DIST += tests/pam/test-refresh.py
