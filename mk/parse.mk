# parse rules (see Makefile.am)
