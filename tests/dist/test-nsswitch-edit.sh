#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dist/nsswitch-edit.sh, which the packages run on /etc/nsswitch.conf: adds "provision" to the
# passwd, group and shadow lines once, and its removal gives back the file byte for byte —
# over stock, hand-edited, merged, commented and incomplete files. Also runs the functions as
# the Debian maintainer scripts inline them.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
edit="$top_srcdir/dist/nsswitch-edit.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}

# expect NAME FILE WANT: FILE's content is exactly WANT (given without the final newline).
expect() {
        checks=$((checks + 1))
        if ! printf '%s\n' "$3" | cmp -s - "$2"; then
                fail "$1"
                printf '%s\n' "$3" | diff -u - "$2" | sed 's/^/    /'
        fi
}

# roundtrip NAME INPUT AFTER_ADD: add gives AFTER_ADD, a second add changes nothing, remove
# gives INPUT back, a second remove changes nothing.
roundtrip() {
        local name=$1 input=$2 after=$3 f="$tmp/nsswitch.conf"
        printf '%s\n' "$input" >"$f"
        sh "$edit" add "$f" || fail "$name: add exited $?"
        expect "$name: add" "$f" "$after"
        sh "$edit" add "$f" || fail "$name: second add exited $?"
        expect "$name: add is idempotent" "$f" "$after"
        sh "$edit" remove "$f" || fail "$name: remove exited $?"
        expect "$name: remove restores the file" "$f" "$input"
        sh "$edit" remove "$f" || fail "$name: second remove exited $?"
        expect "$name: remove is idempotent" "$f" "$input"
}

# removal NAME INPUT AFTER_REMOVE: for files that named provision before we came.
removal() {
        local f="$tmp/nsswitch.conf"
        printf '%s\n' "$2" >"$f"
        sh "$edit" remove "$f" || fail "$1: remove exited $?"
        expect "$1: remove" "$f" "$3"
}

stock='# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.

passwd:         files
group:          files
shadow:         files
gshadow:        files

hosts:          files dns
netgroup:       nis'
stock_added='# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.

passwd:         files provision
group:          files provision
shadow:         files provision
gshadow:        files

hosts:          files dns
netgroup:       nis'
roundtrip "Debian 12 stock file" "$stock" "$stock_added"

roundtrip "systemd and merge" \
'passwd:         files systemd
group:          files [SUCCESS=merge] systemd
shadow:         files' \
'passwd:         files systemd provision
group:          files [SUCCESS=merge] systemd provision
shadow:         files provision'

roundtrip "merge right before us stays with files" \
'passwd: files
group: files [SUCCESS=merge]
shadow: files [NOTFOUND=return]' \
'passwd: files provision
group: files [SUCCESS=merge] provision
shadow: files [NOTFOUND=return] provision'

roundtrip "trailing comments and blanks" \
'passwd:	compat	# local accounts first
group:  files   #provision comes later
shadow: files   ' \
'passwd:	compat provision	# local accounts first
group:  files provision   #provision comes later
shadow: files provision   '

roundtrip "commented-out lines and other databases are not ours" \
'#passwd: files provision
# group: files
passwd: files
group: files
shadow: files
netgroup: provision
automount: files provisioner' \
'#passwd: files provision
# group: files
passwd: files provision
group: files provision
shadow: files provision
netgroup: provision
automount: files provisioner'

roundtrip "similar service names" \
'passwd: files provisioner
group: provision_old files
shadow: files' \
'passwd: files provisioner provision
group: provision_old files provision
shadow: files provision'

roundtrip "leading blanks and blanks before the colon" \
'  passwd : files
	group:files
shadow   :   files' \
'  passwd : files provision
	group:files provision
shadow   :   files provision'

roundtrip "missing lines get a marked line of their own" \
'# minimal
passwd: files' \
'# minimal
passwd: files provision
# Added by libnss-provision; removed with it.
group: files provision
# Added by libnss-provision; removed with it.
shadow: files provision'

roundtrip "duplicate lines are all edited" \
'passwd: files
passwd: compat
group: files
shadow: files' \
'passwd: files provision
passwd: compat provision
group: files provision
shadow: files provision'

roundtrip "an empty line list" \
'passwd:
group: files
shadow: files' \
'passwd: provision
group: files provision
shadow: files provision'

# Already there (an administrator put it in by hand): add leaves it exactly where it is.
f="$tmp/nsswitch.conf"
present='passwd: provision files
group: files [SUCCESS=merge] provision [NOTFOUND=return]
shadow: files provision#late'
printf '%s\n' "$present" >"$f"
sh "$edit" add "$f"
expect "already present: add changes nothing" "$f" "$present"

removal "present by hand: first, with actions, before a comment" "$present" \
'passwd: files
group: files [SUCCESS=merge]
shadow: files#late'

removal "its own actions go, the next service's stay" \
'passwd: files provision [NOTFOUND=return] systemd [UNAVAIL=continue]
group: files provision[UNAVAIL=return]
shadow:provision files' \
'passwd: files systemd [UNAVAIL=continue]
group: files
shadow:files'

removal "a marked line edited by hand loses only provision and the marker" \
'passwd: files
# Added by libnss-provision; removed with it.
group: files provision systemd
# Added by libnss-provision; removed with it.
shadow: files provision' \
'passwd: files
group: files systemd'

# An empty file gets the three lines; removal empties it again.
: >"$f"
sh "$edit" add "$f"
checks=$((checks + 1))
[ "$(grep -c ': files provision$' "$f")" = 3 ] || fail "empty file: three lines added"
sh "$edit" remove "$f"
checks=$((checks + 1))
[ -s "$f" ] && fail "empty file: removal leaves it empty"

# No final newline: our line does not glue onto the last one; removal keeps a newline at most.
printf 'passwd: files\ngroup: files' >"$f"
sh "$edit" add "$f"
expect "no final newline: add" "$f" 'passwd: files provision
group: files provision
# Added by libnss-provision; removed with it.
shadow: files provision'
sh "$edit" remove "$f"
expect "no final newline: remove" "$f" 'passwd: files
group: files'

# Mode and owner are kept, a symlink keeps pointing at the edited file, no temp file is left.
printf '%s\n' "$stock" >"$tmp/real.conf"
chmod 0640 "$tmp/real.conf"
ln -sf real.conf "$tmp/link.conf"
sh "$edit" add "$tmp/link.conf"
checks=$((checks + 1))
[ -L "$tmp/link.conf" ] || fail "symlink: still a symlink"
expect "symlink: target edited" "$tmp/real.conf" "$stock_added"
checks=$((checks + 1))
[ "$(stat -c %a "$tmp/real.conf")" = 640 ] || fail "mode kept (got $(stat -c %a "$tmp/real.conf"))"
checks=$((checks + 1))
ls "$tmp" | grep -q provision-tmp && fail "no temporary file left"

# A missing file is not created.
sh "$edit" add "$tmp/absent.conf"
checks=$((checks + 1))
[ -e "$tmp/absent.conf" ] && fail "a missing file is not created"

# Unchanged content is not rewritten (same inode), so a no-op add does not touch the file.
printf '%s\n' "$stock_added" >"$f"
ino=$(stat -c %i "$f")
sh "$edit" add "$f"
checks=$((checks + 1))
[ "$(stat -c %i "$f")" = "$ino" ] || fail "no-op add keeps the inode"

# The Debian maintainer scripts carry the same functions inline: run them from there.
for script in "$top_srcdir"/debian/libnss-provision.postinst.in "$top_srcdir"/debian/libnss-provision.postrm.in; do
        checks=$((checks + 1))
        grep -q '^#NSSWITCH_FUNCTIONS#$' "$script" 2>/dev/null || fail "${script##*/} has the #NSSWITCH_FUNCTIONS# line"
done
sed -n '/^# BEGIN NSSWITCH FUNCTIONS$/,/^# END NSSWITCH FUNCTIONS$/p' "$edit" >"$tmp/functions.sh"
printf '%s\n' "$stock" >"$f"
sh -ec ". '$tmp/functions.sh'; nsswitch_add '$f'"
expect "inlined functions: add" "$f" "$stock_added"
sh -ec ". '$tmp/functions.sh'; nsswitch_remove '$f'"
expect "inlined functions: remove" "$f" "$stock"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
