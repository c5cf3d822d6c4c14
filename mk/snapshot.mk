# snapshot rules (see Makefile.am)
