# enforcement rules (see Makefile.am): logind session termination, process kill, nscd, hooks.
syncd_libsyncd_la_SOURCES += syncd/enforce.h syncd/enforce.c syncd/child.h syncd/child.c

EXTRA_DIST += doc/enforcement.md

# The kill test needs root (exit 77 otherwise); the other cases run on a private system bus
# with the logind mock (tests/lib/logindbus.py starts both).
check_PROGRAMS += tests/enforce/test-enforce-kill
TESTS += tests/enforce/test-enforce-kill
tests_enforce_test_enforce_kill_SOURCES = tests/enforce/test-enforce-kill.c
tests_enforce_test_enforce_kill_LDADD = syncd/libsyncd.la

if HAVE_CMOCKA
check_PROGRAMS += tests/enforce/test-enforce
check_SCRIPTS += tests/enforce/test-enforce.sh
TESTS += tests/enforce/test-enforce.sh
tests_enforce_test_enforce_SOURCES = tests/enforce/test-enforce.c
tests_enforce_test_enforce_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_enforce_test_enforce_LDADD = syncd/libsyncd.la $(CMOCKA_LIBS)
endif

EXTRA_DIST += tests/enforce/test-enforce.sh
# The private bus with the logind mock, for the tests, the benchmarks and the demo.
EXTRA_DIST += tests/lib/logindbus.py tests/lib/logind-mock.py
