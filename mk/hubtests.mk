# Tests of provision-hub against the real hub process (see Makefile.am).
