# ctl/ (see Makefile.am): provisionctl, the D-Bus policy and their tests.

sbin_PROGRAMS += ctl/provisionctl
ctl_provisionctl_SOURCES = \
	ctl/ctl.h ctl/provisionctl.c \
	ctl/ctl-status.c ctl/ctl-list.c ctl/ctl-actions.c \
	ctl/ctl-util.h ctl/ctl-util.c
ctl_provisionctl_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
ctl_provisionctl_LDADD = syncd/libprovstore.la common/libprovcommon.la $(SYSTEMD_LIBS)

dist_man_MANS += man/provisionctl.8

# The bus policy: installed where dbus-daemon reads system bus policies.
dist_dbuspolicy_DATA = dbus/org.provision.Syncd1.conf

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-ctl-util
TESTS += tests/unit/test-ctl-util
tests_unit_test_ctl_util_SOURCES = tests/unit/test-ctl-util.c ctl/ctl-util.h ctl/ctl-util.c
tests_unit_test_ctl_util_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/ctl
tests_unit_test_ctl_util_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_ctl_util_LDADD = common/libprovcommon.la $(CMOCKA_LIBS)
endif

# A stand-in daemon (tests/ctl/fake-syncd.c implements syncd/daemon.h) serves the real bus code
# on a private dbus-daemon; test-ctl.py drives provisionctl against it and a real store.
check_PROGRAMS += tests/ctl/fake-syncd
tests_ctl_fake_syncd_SOURCES = tests/ctl/fake-syncd.c
tests_ctl_fake_syncd_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
tests_ctl_fake_syncd_LDADD = syncd/libsyncd.la $(SYSTEMD_LIBS)

check_SCRIPTS += tests/ctl/test-ctl.py
TESTS += tests/ctl/test-ctl.py
EXTRA_DIST += tests/ctl/test-ctl.py
check_SCRIPTS += tests/ctl/test-ctl-hostile.py
TESTS += tests/ctl/test-ctl-hostile.py
EXTRA_DIST += tests/ctl/test-ctl-hostile.py
EXTRA_DIST += tests/ctl/ctlharness.py

# End to end: the real provision-syncd against the SCIM test server, on a system-like private bus
# with the logind mock, provisionctl's actions and real PAM (pamtester under pam_wrapper).
check_SCRIPTS += tests/ctl/test-ctl-daemon.py
TESTS += tests/ctl/test-ctl-daemon.py
EXTRA_DIST += tests/ctl/test-ctl-daemon.py
