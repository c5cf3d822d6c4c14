# provision-hub: the SCIM service provider IdPs push to (see Makefile.am). Filled by the hub work.
