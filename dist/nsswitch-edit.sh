#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# nsswitch-edit add|remove [FILE]: adds the NSS service "provision" to the passwd, group and
# shadow lines of FILE (default /etc/nsswitch.conf), or removes it again.
#
# The Debian maintainer scripts inline the functions between the BEGIN and END markers (a
# postrm cannot call a file of the package it removes); the RPM scriptlets call the installed
# copy. tests/dist/test-nsswitch-edit.sh runs both directions over many variants of the file.
#
# Rules, so that an administrator's hand edits survive:
# - only the lines of the three databases are touched, and of them only the part before '#';
# - add: a line that already names provision (with any action) is left alone; otherwise
#   " provision" goes after the last service; a database without a line gets one, preceded by
#   a marker comment;
# - remove: "provision" and its own actions (the [...] after it) go, with the blanks before it,
#   so that add then remove gives back the file byte for byte; the actions before it belong to
#   the previous service and stay; a line under our marker that still reads
#   "DB: files provision" goes with the marker;
# - the file is rewritten (same owner and mode, renamed over the old one) only if it changed.

# BEGIN NSSWITCH FUNCTIONS
nsswitch_marker="# Added by libnss-provision; removed with it."

# nsswitch_rewrite FILE SEDSCRIPT: applies SEDSCRIPT to FILE, replacing it atomically when the
# output differs.
nsswitch_rewrite() {
        _f=$1
        _tmp="$_f.provision-tmp"
        sed -E -e "$2" "$_f" >"$_tmp" || { rm -f "$_tmp"; return 1; }
        if cmp -s "$_f" "$_tmp"; then
                rm -f "$_tmp"
                return 0
        fi
        chmod --reference="$_f" "$_tmp" 2>/dev/null || chmod 0644 "$_tmp"
        chown --reference="$_f" "$_tmp" 2>/dev/null || true
        mv -f "$_tmp" "$_f"
}

nsswitch_add() {
        _f=${1:-/etc/nsswitch.conf}
        # No file: glibc uses its built-in defaults; creating one would change more than us.
        [ -f "$_f" ] || return 0
        _f=$(readlink -f "$_f")
        for _db in passwd group shadow; do
                _line="^[[:space:]]*$_db[[:space:]]*:"
                if grep -Eq "$_line[^#]*[:[:space:]]provision([[:space:]#[]|$)" "$_f"; then
                        continue
                elif grep -Eq "$_line" "$_f"; then
                        nsswitch_rewrite "$_f" "/$_line/ s/^([^#]*[^#[:space:]])/\\1 provision/" || return 1
                else
                        # A file without a final newline must not glue our line onto its last one.
                        if [ -s "$_f" ] && [ "$(tail -c 1 "$_f" | od -An -c | tr -d ' ')" != '\n' ]; then
                                printf '\n' >>"$_f"
                        fi
                        printf '%s\n%s: files provision\n' "$nsswitch_marker" "$_db" >>"$_f"
                fi
        done
}

nsswitch_remove() {
        _f=${1:-/etc/nsswitch.conf}
        [ -f "$_f" ] || return 0
        _f=$(readlink -f "$_f")
        # 1. lines we added whole, with their marker, if still as we wrote them;
        # 2. on the three databases' lines, the part before '#' is edited (h/G keep the comment):
        #    " provision [actions]" (or ":provision [actions] " right after the colon) goes.
        #    (The escaped bracket is followed by a group, not by a bracket expression: lintian
        #    takes two opening brackets in a row for a bashism.)
        nsswitch_rewrite "$_f" "
/^$nsswitch_marker\$/ {
        N
        /\\n(passwd|group|shadow): files provision\$/ d
        s/^[^\\n]*\\n//
}
/^[[:space:]]*(passwd|group|shadow)[[:space:]]*:/ {
        h
        s/#.*//
        s/[[:space:]]+provision([[:space:]]*\\[([^]#]*)\\])*([[:space:]]|\$)/\\3/g
        s/:([[:space:]]*)provision([[:space:]]*\\[([^]#]*)\\])*([[:space:]]+|\$)/:\\1/
        G
        s/\\n[^#]*//
}"
}
# END NSSWITCH FUNCTIONS

case "${1:-}" in
add) nsswitch_add "${2:-}" ;;
remove) nsswitch_remove "${2:-}" ;;
*)
        echo "usage: ${0##*/} add|remove [FILE]" >&2
        exit 2
        ;;
esac
