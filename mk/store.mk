# store rules (see Makefile.am)
syncd_libsyncd_la_SOURCES += syncd/store.h syncd/store.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-store
TESTS += tests/unit/test-store
tests_unit_test_store_SOURCES = tests/unit/test-store.c
tests_unit_test_store_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_store_LDADD = syncd/libsyncd.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
endif

# Subordinate id ranges (syncd/local.c) and the allocator skipping them (syncd/store.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-subid
TESTS += tests/unit/test-subid
tests_unit_test_subid_SOURCES = tests/unit/test-subid.c
tests_unit_test_subid_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_subid_LDADD = syncd/libsyncd.la $(SQLITE_LIBS) $(CMOCKA_LIBS)
endif
