#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every provision-syncd configuration a reader may copy loads as written: the blocks of
README.md (fenced blocks and heredocs), the examples of provision-syncd.conf(5) and the
sample file, each checked with `provision-syncd --check-config` (issue 21, item 6)."""
import os
import re
import subprocess
import sys
import tempfile

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
syncd = os.path.join(top_builddir, "syncd", "provision-syncd")
SYNCD_SECTIONS = {"source", "sync", "paths", "accounts", "enforce"}


def sections(text):
    return {m.group(1) for m in re.finditer(r"^\[([a-z]+)\]\s*$", text, re.M)}


def readme_blocks(path):
    text = open(path).read()
    out = []
    for i, m in enumerate(re.finditer(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)):
        body = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        heredocs = list(re.finditer(r"<<'?EOF'?\n(.*?)^EOF$", body, re.M | re.S))
        if heredocs:
            out += [(f"{path}:{line} (heredoc)", h.group(1)) for h in heredocs]
        else:
            out.append((f"{path}:{line}", body))
    return out


def roff_text(s):
    s = s.replace("\\-", "-").replace("\\(dq", '"').replace("\\e", "\\").replace("\\&", "")
    return "\n".join(l for l in s.splitlines() if not l.startswith(".")) + "\n"


def man_blocks(path):
    text = open(path).read()
    return [(f"{path}:{text.count(chr(10), 0, m.start()) + 1}", roff_text(m.group(1)))
            for m in re.finditer(r"^\.(?:nf|EX)\n(.*?)^\.(?:fi|EE)", text, re.M | re.S)]


def main():
    if not os.access(syncd, os.X_OK):
        print(f"SKIP: {syncd} is not built")
        return 77
    blocks = readme_blocks(os.path.join(top_srcdir, "README.md"))
    blocks += man_blocks(os.path.join(top_srcdir, "man", "provision-syncd.conf.5"))
    # The sample shows every key commented out; a reader fills in the source's URL and token.
    sample = os.path.join(top_srcdir, "syncd", "syncd.conf.sample")
    text = re.sub(r"^#(url|token_file) = ", r"\1 = ", open(sample).read(), flags=re.M)
    blocks.append((f"{sample} (url and token_file filled in)", text))

    checked = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for where, text in blocks:
            found = sections(text)
            if not found or not found <= SYNCD_SECTIONS:
                continue  # not a provision-syncd configuration (nsswitch.conf, hub.conf, shell)
            conf = os.path.join(tmp, "syncd.conf")
            with open(conf, "w") as f:
                f.write(text)
            p = subprocess.run([syncd, "--config", conf, "--check-config"], capture_output=True, text=True,
                               timeout=30)
            checked += 1
            if p.returncode != 0:
                failed += 1
                print(f"not ok - {where}: refused:\n{p.stdout}{p.stderr}")
            else:
                print(f"ok - {where} ({', '.join(sorted(found))})")
    # The README's "Using it" block, the man page's examples and the sample at the least.
    if checked < 3:
        print(f"not ok - only {checked} configuration blocks found; the extraction is broken")
        return 1
    print(f"{checked} configuration blocks checked, {failed} refused")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
