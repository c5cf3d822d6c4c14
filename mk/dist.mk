# dist rules (see Makefile.am): the systemd unit, the nsswitch.conf editor shared by the
# packages, the Debian and RPM packaging, and their tests. tests/e2e/nspawn-e2e.sh (boots the
# .deb files in a container) is shipped but not run by "make check".

# The unit is generated so that ExecStart= and the configuration path follow configure.
systemdsystemunit_DATA = systemd/provision-syncd.service
CLEANFILES += systemd/provision-syncd.service
EXTRA_DIST += systemd/provision-syncd.service.in

systemd/provision-syncd.service: $(top_srcdir)/systemd/provision-syncd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@provconfdir[@]|$(provconfdir)|g' \
		$(top_srcdir)/systemd/provision-syncd.service.in >$@.tmp && mv -f $@.tmp $@

# The RPM scriptlets run the installed editor; the Debian ones carry it inline.
provisionlibexecdir = $(libexecdir)/provision
dist_provisionlibexec_SCRIPTS = dist/nsswitch-edit.sh

# dist/build-packages.sh builds both kinds of package from the "make dist" tarball.
EXTRA_DIST += \
	dist/build-packages.sh \
	debian/changelog debian/control debian/copyright debian/rules debian/source/format \
	debian/libnss-provision.install debian/libnss-provision.postinst.in \
	debian/libnss-provision.postrm.in \
	debian/libpam-provision.install debian/libpam-provision.postinst \
	debian/libpam-provision.prerm debian/libpam-provision.postrm \
	debian/provision.install debian/provision.docs debian/provision.examples debian/provision.postrm debian/provision.dirs \
	debian/clean \
	rpm/provision.spec \
	tests/e2e/nspawn-e2e.sh tests/e2e/directory.json

check_SCRIPTS += tests/dist/test-nsswitch-edit.sh tests/dist/test-unit.sh tests/dist/test-config-blocks.py
TESTS += tests/dist/test-nsswitch-edit.sh tests/dist/test-unit.sh tests/dist/test-config-blocks.py
EXTRA_DIST += tests/dist/test-nsswitch-edit.sh tests/dist/test-unit.sh tests/dist/test-config-blocks.py
