# The hub's store (hub/hub-store.c, lists in hub/hub-store-list.c) on one database interface
# (hub/hub-store-db.h): SQLite through the shared core (common/libprovsql.la, hub/hub-store-db.c)
# or PostgreSQL through libpq (hub/hub-store-pg.c); part of libhub.
hub_libhub_la_SOURCES += hub/hub-store.h hub/hub-store-internal.h hub/hub-store.c hub/hub-store-list.c \
	hub/hub-store-db.h hub/hub-store-db-backend.h hub/hub-store-db.c hub/hub-store-pg.c
hub_libhub_la_CFLAGS += $(SQLITE_CFLAGS) $(CJSON_CFLAGS) $(LIBPQ_CFLAGS)
hub_libhub_la_LIBADD += hub/libhubscim.la common/libprovsql.la $(SQLITE_LIBS) $(CJSON_LIBS) $(LIBPQ_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-hub-store
TESTS += tests/unit/test-hub-store

tests_unit_test_hub_store_SOURCES = tests/unit/test-hub-store.c
tests_unit_test_hub_store_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/hub
tests_unit_test_hub_store_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(CJSON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_hub_store_LDADD = hub/libhub.la $(SQLITE_LIBS) $(CJSON_LIBS) $(CMOCKA_LIBS)
endif
