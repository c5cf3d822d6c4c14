#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""provision-hub against what an adversarial review found: bodies and queries that real IdPs or
hostile clients send, each answered with a proper SCIM response and leaving the store servable:
invalid UTF-8 anywhere in a body, paging parameters larger than 64 bits. Every step is checked
over real HTTP against a real hub.
Run a subset: test-hub-scim-hostile.py CASE... [--keep]."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hubharness import check, check_error, check_list, run_suite  # noqa: E402


def strict_json(r):
    """The body as RFC 8259 JSON: UTF-8, strictly."""
    try:
        return json.loads(r.raw.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError) as e:
        raise AssertionError(f"the answer is not valid UTF-8 JSON ({e}): {r.raw[:200]!r}")


def test_invalid_utf8_anywhere_is_400(hub):
    # The hosts' parser checks the strings it reads; an attribute it does not read must not
    # carry invalid UTF-8 into the store either, or every GET, list page and feed event that
    # holds the user is not JSON any more (RFC 8259 §8.1).
    bodies = [b'{"userName":"u1@example.com","title":"\xc0\xaf"}',
              b'{"userName":"u2@example.com","urn:acme:x":{"y":"\xed\xa0\x80"}}',
              b'{"userName":"u3@example.com","emails":[{"value":"a@b","type":"w\xff"}]}',
              b'{"userName":"u4@example.com","ti\xfe":"x"}']
    for raw in bodies:
        r = hub.request("POST", "/Users", raw=raw)
        check_error(r, 400, "invalidSyntax")
        strict_json(r)
    u = hub.create_user("patched@example.com")
    r = hub.request("PATCH", f"/Users/{u['id']}",
                    raw=b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
                        b'"Operations":[{"op":"replace","path":"title","value":"\xe2\x82"}]}')
    check_error(r, 400, "invalidSyntax")
    r = hub.request("PUT", f"/Users/{u['id']}", raw=b'{"userName":"patched@example.com","nickName":"\x80"}')
    check_error(r, 400, "invalidSyntax")
    r = hub.ok("GET", "/Users", expect=(200,))
    b = strict_json(r)
    check(b["totalResults"] == 1, f"a refused body created or changed a user: {b}")
    # Valid multi-byte text is kept as sent.
    r = hub.ok("POST", "/Users", raw='{"userName":"zoë@example.com","title":"Ingénieure 🚀"}'.encode(), expect=(201,))
    check(strict_json(r)["title"] == "Ingénieure 🚀", f"title: {r!r}")


def test_paging_beyond_64_bits(hub):
    # RFC 7644 §3.4.2.4: count is a non-negative integer, at most the server's maximum is
    # served; a startIndex past the end is an empty page. Neither limit is 2^63.
    for i in range(3):
        hub.create_user(f"p{i}@example.com")
    for query, items, start in (("count=99999999999999999999", 3, 1),
                                ("startIndex=1&count=18446744073709551616", 3, 1),
                                ("startIndex=9223372036854775807&count=5", 0, None),
                                ("startIndex=100000000000000000&count=5", 0, None),
                                ("startIndex=123456789012345678901234567890", 0, None),
                                ("startIndex=-99999999999999999999&count=2", 2, 1),
                                ("count=-99999999999999999999", 0, 1)):
        r = hub.request("GET", "/Users?" + query)
        check(r.status == 200, f"GET /Users?{query} answered {r!r}")
        check_list(r)
        b = r.json
        check(b["totalResults"] == 3 and len(b["Resources"]) == items, f"{query}: {b}")
        if start is not None:
            check(b.get("startIndex") == start, f"{query}: startIndex {b.get('startIndex')!r}")
    for query in ("count=1e3", "startIndex=12abc", "count=", "startIndex=--1", "count=99999999999999999999x"):
        check_error(hub.request("GET", "/Users?" + query), 400, "invalidValue")


if __name__ == "__main__":
    run_suite([test_invalid_utf8_anywhere_is_400,
               test_paging_beyond_64_bits],
              sys.argv, prefix="test-hub-scim-hostile")
