#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile-input corpus, table driven: provision-syncd --once (file source) on a directory that
holds good records and one hostile thing each. For a hostile record: the sync exits 0, the
record is skipped with an audit 'reject' row naming its SCIM id, the good records of the same
sync are applied, and nothing hostile is served. A hostile attribute value (a NUL or lone
surrogate escape, a 70-digit number, a 400-deep attribute) is such a record, or nothing at all
when provision does not read that attribute. A record with a readable id that cannot be served
keeps the stored account as it is (a full scan never deprovisions it) and its active: false
still suspends it: the cases with `replace` rewrite a stored user's record in the second sync.
For a hostile document (not JSON, a raw NUL byte, truncated, not a directory): exit 1, nothing
applied, the previous snapshot unchanged, last_error recorded. An empty directory is held by
the mass-deprovision guard (exit 4). Never a crash.

Usage: test-hostile.py [CASE...]   (run under make check with top_builddir/top_srcdir set)
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

BUILD = os.environ.get("top_builddir", ".")
SYNCD = os.path.join(BUILD, "syncd", "provision-syncd")
SNAPCHECK = os.path.join(BUILD, "tests", "robust", "snapcheck")
U = "urn:ietf:params:scim:schemas:core:2.0:User"
G = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def user(sid, name, **kw):
    u = {"schemas": [U], "id": sid, "userName": name, "active": True}
    u.update(kw)
    return u


def group(sid, name, members=(), **kw):
    g = {"schemas": [G], "id": sid, "displayName": name, "members": [{"value": m} for m in members]}
    g.update(kw)
    return g


BASE_USERS = [user("b-1", "alice", uidNumber=200001), user("b-2", "bob", uidNumber=200002)]
BASE_GROUPS = [group("g-staff", "crew", ["b-1", "b-2"], gidNumber=300000)]
# Applied in the same sync as every hostile record: the good ones must not suffer.
NEWBIE = user("n-1", "newbie")


def case(name, users=(), groups=(), expect="reject", bad=(), any_bad=(), absent=(), present=(),
         raw=None, members=None, one_of=(), replace=None, same=(), state=None):
    """expect: reject | ok | fail | guard. bad: SCIM ids that must each have a reject row;
    any_bad: at least one of these must; absent/present: names (not) in the snapshot; one_of:
    exactly one of these user names is served;
    members: {group: [names]} exact membership; raw: the whole file as bytes;
    replace: {SCIM id: record} stands in for that base user in the second sync; same: names
    whose passwd entry must not change; state: {name: (store state, shell in the snapshot)}."""
    return dict(name=name, users=list(users), groups=list(groups), expect=expect, bad=list(bad),
                any_bad=list(any_bad), absent=list(absent), present=list(present), raw=raw, members=members,
                one_of=list(one_of), replace=replace or {}, same=list(same), state=state or {})


def deep(n, leaf="x"):
    v = leaf
    for _ in range(n):
        v = [v]
    return v


ACTIVE, SUSPENDED = 0, 1
NOLOGIN = "/usr/sbin/nologin"
BIG = 10 ** 69  # 70 digits: over cJSON 1.7.15's 64-byte number buffer


def bad_user(name, sid, user_name, **kw):
    return case(name, users=[user(sid, user_name, **kw)], bad=[sid])


CASES = [
    # --- names ---------------------------------------------------------------------------
    bad_user("name-colon", "x-1", "ev:il"),
    bad_user("name-comma", "x-2", "ev,il"),
    bad_user("name-newline", "x-3", "ev\nil"),
    bad_user("name-leading-dash", "x-4", "-evil"),
    bad_user("name-33-bytes", "x-5", "a" * 33),
    bad_user("name-numeric", "x-6", "12345"),
    bad_user("name-confusable-cyrillic", "x-7", "\u0430dmin"),
    bad_user("name-fullwidth", "x-8", "\uff45vil"),
    bad_user("name-local-root", "x-9", "root"),
    bad_user("name-local-group", "x-10", "sudo"),
    bad_user("name-empty", "x-11", ""),
    bad_user("name-space", "x-12", "ev il"),
    bad_user("name-slash", "x-13", "../etc"),
    bad_user("name-dotdot", "x-14", ".."),
    case("name-wrong-type", users=[{"schemas": [U], "id": "x-15", "userName": 42}], bad=["x-15"]),
    case("name-missing", users=[{"schemas": [U], "id": "x-16"}], bad=["x-16"]),
    case("name-case-collision", users=[user("x-17", "Carol"), user("x-18", "carol")],
         any_bad=["x-17", "x-18"], present=["carol"]),
    case("name-takes-existing-user", users=[user("x-19", "ALICE")], bad=["x-19"]),
    case("name-is-a-group", users=[user("x-20", "crew")], bad=["x-20"], absent=["passwd crew"]),
    # --- ids -----------------------------------------------------------------------------
    bad_user("uid-zero", "i-1", "zero", uidNumber=0),
    bad_user("uid-negative", "i-2", "neg", uidNumber=-1),
    bad_user("uid-2^31", "i-3", "big", uidNumber=2 ** 31),
    bad_user("uid-2^32-wrap", "i-4", "wrap", uidNumber=2 ** 32 + 200005),
    bad_user("uid-nobody", "i-5", "nob", uidNumber=65534),
    bad_user("uid-reserved-system", "i-6", "sys", uidNumber=999),
    bad_user("uid-not-a-number", "i-7", "nan", uidNumber="abc"),
    bad_user("uid-fraction", "i-8", "frac", uidNumber=200010.5),
    bad_user("uid-duplicate", "i-9", "dupuid", uidNumber=200001),
    bad_user("uid-local-passwd", "i-10", "localuid", uidNumber=200500),
    bad_user("uid-local-group", "i-11", "localgid", uidNumber=200600),
    # Two resources with one id: one is kept (de-duplication by id), the other has a reject row.
    case("scim-id-duplicate", users=[user("i-12", "twin1"), user("i-12", "twin2")], any_bad=["i-12"],
         one_of=["twin1", "twin2"]),
    case("scim-id-missing", users=[{"schemas": [U], "userName": "noid"}], absent=["passwd noid"],
         expect="reject-anon"),
    bad_user("scim-id-300-bytes", "i" * 300, "longid"),
    # --- home, shell, gecos --------------------------------------------------------------
    bad_user("home-relative", "h-1", "rel", homeDirectory="home/rel"),
    bad_user("home-dotdot", "h-2", "dots", homeDirectory="/home/../etc"),
    bad_user("home-outside-base", "h-3", "outside", homeDirectory="/etc/outside"),
    bad_user("home-is-base", "h-4", "basehome", homeDirectory="/home"),
    bad_user("home-colon", "h-5", "colonhome", homeDirectory="/home/co:lon"),
    bad_user("shell-not-allowed", "h-6", "evilsh", loginShell="/tmp/evil"),
    bad_user("shell-relative", "h-7", "relsh", loginShell="bash"),
    bad_user("gecos-colon", "h-8", "gcolon", displayName="Eve: root"),
    bad_user("gecos-newline", "h-9", "gnl", displayName="Eve\nroot::0:0::/:/bin/sh"),
    bad_user("gecos-256-bytes", "h-10", "glong", displayName="x" * 256),
    # A home that is, holds or lies in a local account's home (passwd below): the directory user
    # would own or replace the local user's files.
    bad_user("home-is-local-home", "h-16", "svc-data"),
    bad_user("home-holds-local-home", "h-17", "team"),
    bad_user("home-in-local-home", "h-18", "hx", homeDirectory="/home/Shared/hx"),
    bad_user("gecos-c1-control", "h-11", "gctl", displayName="Eve\u0085"),
    # Invisible formatting that reorders or breaks what getent, finger and ps print.
    bad_user("gecos-bidi-override", "h-12", "gbidi", displayName="\u202eEve Admin"),
    bad_user("gecos-bidi-isolate", "h-13", "giso", displayName="Eve \u2066root\u2069"),
    bad_user("gecos-line-separator", "h-14", "glsep", displayName="Eve\u2028root"),
    case("gecos-rtl-script-ok", users=[user("h-15", "rtl", displayName="\u05d3\u05e0\u05d4 \u0645\u06cc\u200c\u0631")],
         expect="ok", present=["rtl"]),
    # --- groups --------------------------------------------------------------------------
    case("group-cycle", groups=[
        {"schemas": [G], "id": "c-1", "displayName": "cyc1", "members": [{"value": "c-2", "type": "Group"}, {"value": "b-1"}]},
        {"schemas": [G], "id": "c-2", "displayName": "cyc2", "members": [{"value": "c-1", "type": "Group"}, {"value": "b-2"}]},
    ], expect="ok", members={"cyc1": ["alice"], "cyc2": ["bob"]}),
    case("group-self-member", groups=[
        {"schemas": [G], "id": "c-3", "displayName": "selfish", "members": [{"value": "c-3"}, {"value": "b-1"}]},
    ], expect="ok", members={"selfish": ["alice"]}),
    case("group-member-missing", groups=[group("c-4", "ghosts", ["nobody-here", "b-2"])], expect="ok",
         members={"ghosts": ["bob"]}),
    case("group-name-colon", groups=[group("c-5", "bad:grp", ["b-1"])], bad=["c-5"]),
    case("group-local-name", groups=[group("c-6", "sudo", ["b-1"])], bad=["c-6"]),
    case("group-gid-zero", groups=[group("c-7", "gzero", ["b-1"], gidNumber=0)], bad=["c-7"]),
    case("group-gid-local", groups=[group("c-8", "glocal", ["b-1"], gidNumber=200600)], bad=["c-8"]),
    case("group-no-name", groups=[{"schemas": [G], "id": "c-9", "members": []}], bad=["c-9"]),
    case("group-shadows-user", groups=[group("c-10", "alice", ["b-2"])], bad=["c-10"]),
    # --- wrong types, schemas, shapes ---------------------------------------------------
    case("wrong-schemas", users=[{"schemas": ["urn:evil"], "id": "w-1", "userName": "wrongschema"}],
         bad=["w-1"]),
    case("group-in-users", users=[group("w-2", "sneaky", ["b-1"])], bad=["w-2"], absent=["group sneaky"]),
    case("active-garbage", users=[user("w-3", "maybe", active="maybe")], bad=["w-3"]),
    case("user-not-object", users=["just a string", 7, None], expect="reject-anon"),
    case("huge-string", users=[user("w-4", "x" * (5 * 1024 * 1024))], bad=["w-4"]),
    case("lying-totalResults", raw=json.dumps({
        "Users": {"schemas": [LIST], "totalResults": 1000000, "itemsPerPage": 999, "startIndex": 1,
                  "Resources": BASE_USERS + [NEWBIE]},
        "Groups": BASE_GROUPS}).encode(), expect="ok"),
    # --- one attribute value: never the whole document (issue 19) ------------------------
    case("value-nul-escape-name", users=[user("d-1", "nul\u0000name")], bad=["d-1"]),
    case("value-nul-escape-gecos", users=[user("d-2", "chief", displayName="Chief \u0000 Officer")], bad=["d-2"],
         absent=["passwd chief"]),
    case("value-nul-escape-unread", users=[user("d-3", "titled", title="Chief \u0000 Officer")], expect="ok",
         present=["titled"]),
    case("value-lone-high-unread", users=[user("d-4", "nick", nickName="\ud800")], expect="ok", present=["nick"]),
    case("value-lone-low-unread", users=[user("d-5", "nick2", nickName="a\udc00b")], expect="ok", present=["nick2"]),
    case("value-high-high-gecos", users=[user("d-6", "hh", displayName="\ud800\ud800")], bad=["d-6"],
         absent=["passwd hh"]),
    case("value-lone-high-name", users=[user("d-7", "\ud800")], bad=["d-7"]),
    case("value-long-number-unread", users=[user("d-8", "longnum", employeeNumber=BIG)], expect="ok",
         present=["longnum"]),
    case("value-long-number-uid", users=[user("d-9", "longuid", uidNumber=BIG)], bad=["d-9"],
         absent=["passwd longuid"]),
    case("value-deep-unread", users=[user("d-10", "deepx", x=deep(400))], expect="ok", present=["deepx"]),
    case("value-deep-gecos", users=[user("d-11", "deepg", displayName=deep(400))], bad=["d-11"],
         absent=["passwd deepg"]),
    case("value-lone-surrogate-group", groups=[group("d-12", "\ud800", ["b-1"])], bad=["d-12"]),
    case("value-bad-member-entry", groups=[
        {"schemas": [G], "id": "d-13", "displayName": "partial",
         "members": [{"value": "b-1"}, {"value": "\ud800"}, "b-2", {"value": BIG}]}],
         bad=["d-13"], members={"partial": ["alice"]}),
    # --- a stored account whose record becomes unservable ---------------------------------
    case("stored-unservable-kept", replace={"b-1": user("b-1", "alice", uidNumber=200001, displayName="\ud800")},
         bad=["b-1"], same=["alice"], state={"alice": (ACTIVE, None)}),
    case("stored-unservable-suspended", replace={"b-1": user("b-1", "\ud800", active=False, uidNumber=BIG)},
         bad=["b-1"], state={"alice": (SUSPENDED, NOLOGIN)}),
    case("stored-unservable-active-unreadable", replace={"b-1": user("b-1", "alice", active=deep(400))},
         bad=["b-1"], state={"alice": (SUSPENDED, NOLOGIN)}),
    case("stored-unservable-full-scan", replace={"b-1": {"schemas": ["urn:evil"], "id": "b-1", "userName": 5}},
         bad=["b-1"], same=["alice"], state={"alice": (ACTIVE, None)}),
    # --- whole documents ------------------------------------------------------------------
    case("doc-deep-nesting", raw=b'{"Users": ' + b"[" * 100000 + b"]" * 100000 + b"}", expect="guard"),
    case("doc-raw-nul-in-record", raw=json.dumps({"Users": BASE_USERS + [user("d-20", "rawnul")],
                                                  "Groups": BASE_GROUPS}).encode().replace(b"rawnul", b"raw\x00nul"),
         expect="fail"),
    case("doc-bad-hex-escape", raw=json.dumps({"Users": BASE_USERS + [user("d-21", "badhex")],
                                               "Groups": BASE_GROUPS}).encode().replace(b"badhex", b"bad\\uZZZZ"),
         expect="fail"),
    case("doc-top-level-array", raw=b"[]", expect="fail"),
    case("doc-users-string", raw=b'{"Users": "everyone", "Groups": []}', expect="fail"),
    case("doc-not-json", raw=b"\x00\xff\xfe garbage", expect="fail"),
    case("doc-truncated", raw=json.dumps({"Users": BASE_USERS}).encode()[:-10], expect="fail"),
    case("doc-empty-directory", raw=b'{"Users": [], "Groups": []}', expect="guard"),
]

CONF = """[source]
type = file
path = {tmp}/directory.json
[paths]
state_dir = {tmp}/state
passwd_file = {tmp}/passwd
group_file = {tmp}/group
[accounts]
uid_attribute = uidNumber
gid_attribute = gidNumber
# The home-* cases check the homeDirectory the source gives, used only when opted in.
home_from_attribute = yes
[enforce]
terminate_sessions = no
"""


class Failure(Exception):
    pass


def write_dir(tmp, users, groups, raw=None):
    with open(os.path.join(tmp, "directory.json"), "wb") as f:
        f.write(raw if raw is not None else json.dumps({"Users": users, "Groups": groups}).encode())


def run_syncd(tmp):
    p = subprocess.run([SYNCD, "--config", os.path.join(tmp, "syncd.conf"), "--once"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if p.returncode < 0:
        raise Failure(f"provision-syncd died of signal {-p.returncode}: {p.stdout.decode(errors='replace')[-2000:]}")
    return p.returncode, p.stdout.decode(errors="replace")


def store(tmp):
    return sqlite3.connect(f"file:{tmp}/state/store.db?mode=ro", uri=True)


def snapshot_dump(tmp):
    p = subprocess.run([SNAPCHECK, os.path.join(tmp, "state", "snapshot"), "--dump"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise Failure(f"snapshot invalid: {p.stderr.decode()}")
    return p.stdout.decode().splitlines()


def entry(lines, kind, name):
    for line in lines:
        if line.startswith(f"{kind} {name}:"):
            return line
    return None


def snapcheck(tmp):
    p = subprocess.run([SNAPCHECK, os.path.join(tmp, "state", "snapshot")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise Failure(f"snapshot invalid: {p.stderr.decode()}")
    return p.stdout.decode().strip()


def run_case(c, tmp):
    write_dir(tmp, BASE_USERS, BASE_GROUPS)
    rc, out = run_syncd(tmp)
    if rc != 0:
        raise Failure(f"base sync exited {rc}: {out}")
    with store(tmp) as db:
        seq0 = db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0]
    snap_before = snapcheck(tmp)
    lines_before = snapshot_dump(tmp)

    if c["raw"] is not None:
        write_dir(tmp, None, None, c["raw"])
    else:
        write_dir(tmp, [c["replace"].get(u["id"], u) for u in BASE_USERS] + [NEWBIE] + c["users"],
                  BASE_GROUPS + c["groups"])
    rc, out = run_syncd(tmp)
    expect = c["expect"]
    want_rc = {"fail": 1, "guard": 4}.get(expect, 0)
    if rc != want_rc:
        raise Failure(f"exited {rc}, expected {want_rc}: {out[-1500:]}")

    with store(tmp) as db:
        rejects = db.execute("SELECT scim_id, detail FROM audit WHERE event = 'reject' AND seq > ?",
                             (seq0,)).fetchall()
        last_error = db.execute("SELECT value FROM sync_state WHERE key = 'last_error'").fetchone()
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise Failure("store integrity_check failed")
    lines = snapshot_dump(tmp)

    if expect in ("fail", "guard"):
        # Same generation and content (a held sync may still move the last-sync time).
        if snapcheck(tmp) != snap_before:
            raise Failure("the snapshot changed although nothing was to be applied")
        if expect == "fail" and not (last_error and last_error[0]):
            raise Failure("no last_error recorded for a refused document")
        if expect == "fail" and "nothing applied" not in out:
            raise Failure(f"no clear message: {out[-500:]}")
        for n in ("alice", "bob"):
            if not entry(lines, "passwd", n):
                raise Failure(f"{n} lost after a refused document")
        return

    # The audit row may carry a shortened id (an over-long one is cut to fit).
    rejected_ids = {r[0] for r in rejects}

    def has_reject(sid):
        return any(r and (r == sid or (len(r) >= 64 and sid.startswith(r))) for r in rejected_ids)

    for sid in c["bad"]:
        if not has_reject(sid):
            raise Failure(f"no audit reject row for SCIM id {sid[:40]!r}; rejects: {rejects}")
    if c["any_bad"] and not any(has_reject(sid) for sid in c["any_bad"]):
        raise Failure(f"none of {c['any_bad']} has a reject row; rejects: {rejects}")
    if expect == "reject-anon" and not rejects:
        raise Failure("a record without an id was skipped without an audit row")
    if expect == "ok" and rejects:
        raise Failure(f"unexpected rejects: {rejects}")
    # The good records of the same sync are served.
    for n in ["alice", "bob"] + (["newbie"] if c["raw"] is None else []) + c["present"]:
        if not entry(lines, "passwd", n):
            raise Failure(f"good user {n} not served")
    staff = entry(lines, "group", "crew")
    # A suspended account is no group's member while it stays so.
    crew = ",".join(n for n in ("alice", "bob") if c["state"].get(n, (ACTIVE,))[0] == ACTIVE)
    if not staff or not staff.endswith(":" + crew):
        raise Failure(f"good group crew wrong: {staff}")
    for a in c["absent"]:
        kind, name = a.split(" ", 1)
        if entry(lines, kind, name):
            raise Failure(f"{a} is served")
    # Nothing served that came from a hostile record: every served user is a known good one.
    served = [n for n in c["one_of"] if entry(lines, "passwd", n)]
    if c["one_of"] and len(served) != 1:
        raise Failure(f"expected exactly one of {c['one_of']} served, got {served}")
    good = {"alice", "bob", "newbie", *c["present"], *served}
    for line in lines:
        if line.startswith("passwd "):
            name = line[len("passwd "):].split(":", 1)[0]
            if name not in good:
                raise Failure(f"unexpected user served: {line}")
    for n in c["same"]:
        if entry(lines, "passwd", n) != entry(lines_before, "passwd", n):
            raise Failure(f"{n} changed: {entry(lines_before, 'passwd', n)} -> {entry(lines, 'passwd', n)}")
    for n, (want_state, want_shell) in c["state"].items():
        with store(tmp) as db:
            row = db.execute("SELECT state FROM users WHERE name = ?", (n,)).fetchone()
        if not row or row[0] != want_state:
            raise Failure(f"{n}: store state {row and row[0]}, expected {want_state}")
        e = entry(lines, "passwd", n)
        if want_shell and (not e or e.split(":")[6] != want_shell):
            raise Failure(f"{n}: served as {e}, expected shell {want_shell}")
    for g, want in (c["members"] or {}).items():
        e = entry(lines, "group", g)
        got = e.split(":")[3].split(",") if e and e.split(":")[3] else []
        if sorted(got) != sorted(want):
            raise Failure(f"group {g}: members {got}, expected {want}")


def main():
    for exe in (SYNCD, SNAPCHECK):
        if not os.access(exe, os.X_OK):
            print(f"SKIP: {exe} not built")
            return 77
    only = set(sys.argv[1:])
    failed = 0
    n = 0
    for c in CASES:
        if only and c["name"] not in only:
            continue
        n += 1
        tmp = tempfile.mkdtemp(prefix="test-hostile.")
        try:
            os.chmod(tmp, 0o755)
            with open(os.path.join(tmp, "passwd"), "w") as f:
                f.write("root:x:0:0::/root:/bin/sh\nlocal:x:1000:1000::/home/local:/bin/sh\n"
                        "svc:x:200500:200500::/:/usr/sbin/nologin\n"
                        "svcdata:x:1001:1001::/home/svc-data:/bin/sh\nlead:x:1002:1002::/home/team/lead/:/bin/sh\n"
                        "shr:x:1003:1003::/home/Shared:/bin/sh\n")
            with open(os.path.join(tmp, "group"), "w") as f:
                f.write("root:x:0:\nsudo:x:27:\nlocalgrp:x:200600:\n")
            with open(os.path.join(tmp, "syncd.conf"), "w") as f:
                f.write(CONF.format(tmp=tmp))
            run_case(c, tmp)
            print(f"ok   {c['name']}")
        except (Failure, subprocess.TimeoutExpired) as e:
            failed += 1
            print(f"FAIL {c['name']}: {e}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{n - failed}/{n} hostile-input cases passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
