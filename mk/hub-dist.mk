# provision-hub's unit, system user, man pages and packaging (see Makefile.am and mk/dist.mk).

systemdsystemunit_DATA += systemd/provision-hub.service
CLEANFILES += systemd/provision-hub.service
EXTRA_DIST += systemd/provision-hub.service.in systemd/provision-hub.sysusers

systemd/provision-hub.service: $(top_srcdir)/systemd/provision-hub.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@provconfdir[@]|$(provconfdir)|g' \
		$(top_srcdir)/systemd/provision-hub.service.in >$@.tmp && mv -f $@.tmp $@

# The system user of the unit, created by systemd-sysusers (the packages run it).
sysusersdir = $(prefix)/lib/sysusers.d
install-data-local: install-hub-sysusers
install-hub-sysusers:
	$(MKDIR_P) '$(DESTDIR)$(sysusersdir)'
	$(INSTALL_DATA) $(top_srcdir)/systemd/provision-hub.sysusers '$(DESTDIR)$(sysusersdir)/provision-hub.conf'
uninstall-local: uninstall-hub-sysusers
uninstall-hub-sysusers:
	rm -f '$(DESTDIR)$(sysusersdir)/provision-hub.conf'
.PHONY: install-hub-sysusers uninstall-hub-sysusers

dist_man_MANS += man/provision-hub.8 man/provision-hub.conf.5

EXTRA_DIST += debian/provision-hub.install debian/provision-hub.examples debian/provision-hub.postinst debian/provision-hub.postrm bench/bench-hub.sh bench/bench-hub.py
