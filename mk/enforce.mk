# enforcement rules (see Makefile.am): logind session termination, process kill, nscd, hooks.
syncd_libsyncd_la_SOURCES += syncd/enforce.h syncd/enforce.c

EXTRA_DIST += doc/enforcement.md
