# parse rules (see Makefile.am): config parser, field validators, SCIM JSON parser.

common_libprovcommon_la_SOURCES += \
	common/prov-ini.h common/ini.c \
	common/prov-config.h common/config.c \
	common/prov-validate.h common/validate.c

# libprovscimparse: the SCIM JSON parser alone (arena, id hash, parser; cJSON and libprovcommon's
# validators), so that the hub validates what it accepts with the very rules the hosts apply
# without linking libcurl or sd-bus. libsyncd takes it whole; whoever links it also links
# common/libprovcommon.la (not added here: libsyncd already carries one copy of it).
noinst_LTLIBRARIES += syncd/libprovscimparse.la
syncd_libprovscimparse_la_SOURCES = \
	syncd/arena.h syncd/arena.c \
	syncd/idhash.h syncd/idhash.c \
	syncd/scim-parse.h syncd/scim-parse.c \
	syncd/scim-json.h syncd/scim-json.c \
	syncd/scim-parse-internal.h syncd/scim-parse-doc.c
syncd_libprovscimparse_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
syncd_libprovscimparse_la_LIBADD = $(CJSON_LIBS)

syncd_libsyncd_la_LIBADD += syncd/libprovscimparse.la

dist_man_MANS += man/provision-syncd.conf.5

EXTRA_DIST += \
	syncd/syncd.conf.sample \
	tests/fixtures/scim/bad-resources.json \
	tests/fixtures/scim/directory-arrays.json \
	tests/fixtures/scim/directory-listresponse.json \
	tests/fixtures/scim/empty-object.json \
	tests/fixtures/scim/entra-user.json \
	tests/fixtures/scim/error-response.json \
	tests/fixtures/scim/posix-user.json \
	tests/fixtures/scim/sample-directory.json \
	tests/fixtures/scim/truncated.json \
	tests/fixtures/scim/users-empty-page.json \
	tests/fixtures/scim/users-page.json \
	tests/fixtures/file-source.conf \
	tests/fixtures/full.conf

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test-config tests/unit/test-validate tests/unit/test-arena \
	tests/unit/test-idhash tests/unit/test-scim-parse
TESTS += tests/unit/test-config tests/unit/test-validate tests/unit/test-arena tests/unit/test-idhash \
	tests/unit/test-scim-parse

tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_config_LDADD = common/libprovcommon.la $(CMOCKA_LIBS)

tests_unit_test_validate_SOURCES = tests/unit/test-validate.c
tests_unit_test_validate_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_validate_LDADD = common/libprovcommon.la $(CMOCKA_LIBS)

tests_unit_test_arena_SOURCES = tests/unit/test-arena.c
tests_unit_test_arena_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_arena_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)

tests_unit_test_idhash_SOURCES = tests/unit/test-idhash.c
tests_unit_test_idhash_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_idhash_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)

tests_unit_test_scim_parse_SOURCES = tests/unit/test-scim-parse.c
tests_unit_test_scim_parse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_scim_parse_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)
endif
