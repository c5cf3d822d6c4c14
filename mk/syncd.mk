# syncd rules (see Makefile.am)
