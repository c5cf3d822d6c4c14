# store rules (see Makefile.am)
