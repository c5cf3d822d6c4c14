# snapshot rules (see Makefile.am): snapshot format (reader, cache, writer), the NSS module and
# their tests.

common_libprovcache_la_SOURCES += \
	common/prov-snapshot.h \
	common/snapshot-format.h \
	common/snapshot-read.c \
	common/snapshot-cache.c

common_libprovcommon_la_SOURCES += \
	common/prov-snapshot-write.h \
	common/snapshot-write.c

# libnss_provision.so.2: libc + libprovcache only, only _nss_provision_* exported.
nss_LTLIBRARIES += nss_provision/libnss_provision.la
nss_provision_libnss_provision_la_SOURCES = nss_provision/nss-provision.c
nss_provision_libnss_provision_la_CFLAGS = $(AM_CFLAGS) -fPIC
nss_provision_libnss_provision_la_LIBADD = common/libprovcache.la
nss_provision_libnss_provision_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-Wl,--version-script=$(top_srcdir)/nss_provision/nss-provision.sym \
	-Wl,-soname,libnss_provision.so.2 -Wl,--no-undefined
EXTRA_nss_provision_libnss_provision_la_DEPENDENCIES = $(top_srcdir)/nss_provision/nss-provision.sym
EXTRA_DIST += nss_provision/nss-provision.sym

# glibc loads NSS modules by soname: give the build tree a libnss_provision.so.2 for tests
# (LD_LIBRARY_PATH=nss_provision/.libs), and install under that name without the .la.
all-local: nss-provision-soname-link
nss-provision-soname-link: nss_provision/libnss_provision.la
	$(AM_V_at)ln -sf libnss_provision.so $(builddir)/nss_provision/.libs/libnss_provision.so.2
.PHONY: nss-provision-soname-link

# nssdir has no "exec" in its name, so automake installs it with the data.
install-data-hook: install-nss-provision-hook
install-nss-provision-hook:
	mv -f $(DESTDIR)$(nssdir)/libnss_provision.so $(DESTDIR)$(nssdir)/libnss_provision.so.2
	rm -f $(DESTDIR)$(nssdir)/libnss_provision.la
uninstall-hook: uninstall-nss-provision-hook
uninstall-nss-provision-hook:
	rm -f $(DESTDIR)$(nssdir)/libnss_provision.so.2
.PHONY: install-nss-provision-hook uninstall-nss-provision-hook
