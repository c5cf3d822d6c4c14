/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provision-ssh-keys (sshd's AuthorizedKeysCommand) and the host's own accounts: a snapshot and a
 * keys file that give SSH keys to a name /etc/passwd also has (the writer never serves a local
 * name, but /etc/passwd may gain it after a publication) must not let that key log in as the local
 * account. The helper runs as sshd runs it, with the user name as its one argument. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nss-test-util.h"
#include "prov-snapshot.h"
#include "prov-sshkeys.h"
#include "prov-util.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKGY9I6wI1IhlJ6tfn6VMdMTostAdtF9ipPR7LU6v2G a@x"

/* What the helper prints for name, with the snapshot at snap: its stdout, malloc'ed. */
static char *helper(const char *top, const char *snap, const char *name) {
        _cleanup_free_ char *cmd = NULL;
        char buf[4096];
        size_t n;
        FILE *p;

        if (asprintf(&cmd, "PROVISION_SNAPSHOT='%s' '%s/sshkeys/provision-ssh-keys' '%s'", snap, top, name) < 0)
                return NULL;
        p = popen(cmd, "r");
        if (!p)
                return NULL;
        n = fread(buf, 1, sizeof(buf) - 1, p);
        buf[n] = '\0';
        if (pclose(p) != 0)
                return NULL;
        return strdup(buf);
}

int main(void) {
        _cleanup_free_ char *dir = strdup("/tmp/test-sshkeys-local.XXXXXX"), *snap = NULL, *keys = NULL,
                            *desc = NULL, *out_local = NULL, *out_alice = NULL;
        const char *top = getenv("top_builddir") ?: ".";
        ProvSshKeysRecord recs[2];
        struct passwd *pw;
        FILE *f;
        int r, failures = 0;

        /* The first account of /etc/passwd besides root, read as NSS would not. */
        setpwent();
        while ((pw = getpwent()) && (streq(pw->pw_name, "root") || strchr(pw->pw_name, '\'')))
                ;
        if (!pw || prov_local_user_exists(NULL, pw->pw_name) <= 0) {
                printf("SKIP: no local account besides root\n");
                return 77;
        }
        if (!dir || !mkdtemp(dir) || asprintf(&snap, "%s/snapshot", dir) < 0 ||
            asprintf(&desc, "M:5:now:10000:60000\nU:alice:10001:10001:A:/home/alice:/bin/bash:active:0\n"
                            "U:%s:10006:10006:L:/home/l:/bin/bash:active:0\n", pw->pw_name) < 0)
                return 1;
        f = fmemopen(desc, strlen(desc), "r");
        if (!f)
                return 1;
        r = test_snap_from_text(snap, f);
        fclose(f);
        keys = prov_sshkeys_path_beside(snap);
        recs[0] = (ProvSshKeysRecord) { .name = "alice", .keys = KEY, .uid = 10001 };
        recs[1] = (ProvSshKeysRecord) { .name = pw->pw_name, .keys = KEY, .uid = 10006 };
        if (r < 0 || !keys || prov_sshkeys_write(keys, 5, recs, 2) < 0) {
                fprintf(stderr, "cannot write the snapshot or the keys file\n");
                return 1;
        }

        out_alice = helper(top, snap, "alice");
        out_local = helper(top, snap, recs[1].name);
        if (!out_alice || !strstr(out_alice, KEY)) {
                printf("FAIL: the directory user alice does not get her key: '%s'\n", out_alice ?: "");
                failures++;
        } else
                printf("ok: the directory user alice gets her key\n");
        if (!out_local || out_local[0] != '\0') {
                printf("FAIL: the local account %s gets the directory's key: '%s'\n", recs[1].name,
                       out_local ?: "");
                failures++;
        } else
                printf("ok: the local account %s gets no key from the directory\n", recs[1].name);

        /* A keys file that anyone but root could have written holds anyone's keys: none is printed. */
        free(out_alice);
        out_alice = NULL;
        if (chmod(keys, 0666) < 0 || ((out_alice = helper(top, snap, "alice")) && out_alice[0] != '\0')) {
                printf("FAIL: a world-writable keys file gives alice keys: '%s'\n", out_alice ?: "");
                failures++;
        } else
                printf("ok: a world-writable keys file gives nobody keys\n");

        (void) unlink(keys);
        (void) unlink(snap);
        (void) rmdir(dir);
        return failures ? 1 : 0;
}
