/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* provision-ssh-keys USER: sshd's AuthorizedKeysCommand. Prints the OpenSSH public keys the
 * directory gave USER, one per line, when USER is an account of the snapshot in state active,
 * and nothing otherwise.
 *
 * The snapshot decides, the keys file only supplies: the account's state is read from the
 * snapshot that NSS and pam_provision read, so a leaver's key stops working with the same
 * rename of the snapshot that ends their password and their sessions, whatever the keys file
 * still holds. The keys file must be the one published with that snapshot (same generation) and
 * name the account with the same uid; between the two renames of an export, or when the keys
 * file could not be written, nobody's keys are printed (fail closed).
 *
 * Links libc and the project's libc-only readers. It never prints anything but key lines that
 * pass prov_valid_ssh_key() again, and never writes a key to stderr. Paths can be overridden for
 * tests through $PROVISION_SNAPSHOT and $PROVISION_SSH_KEYS, read with secure_getenv(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prov-snapshot.h"
#include "prov-sshkeys.h"
#include "prov-util.h"
#include "prov-validate.h"

/* $PROVISION_SSH_KEYS; else "ssh-keys" beside the snapshot in use. */
static char *keys_path(const char *snapshot) {
        const char *e = secure_getenv("PROVISION_SSH_KEYS");

        if (e && *e)
                return strdup(e);
        return prov_sshkeys_path_beside(snapshot);
}

/* Writes the valid lines of keys ('\n'-separated) to stdout. */
static int print_keys(const char *keys) {
        char line[PROV_SSH_KEY_MAX + 1];
        const char *p = keys;

        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);

                if (n <= PROV_SSH_KEY_MAX) {
                        memcpy(line, p, n);
                        line[n] = '\0';
                        if (prov_valid_ssh_key(line, NULL)) {
                                line[n] = '\n';
                                if (fwrite(line, 1, n + 1, stdout) != n + 1)
                                        return -EIO;
                        }
                }
                p += n + (nl ? 1 : 0);
        }
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int main(int argc, char *argv[]) {
        _cleanup_(prov_snapshot_closep) ProvSnapshot *snap = NULL;
        _cleanup_(prov_sshkeys_closep) ProvSshKeys *keys = NULL;
        _cleanup_free_ char *kpath = NULL;
        const char *spath, *name, *text = NULL;
        ProvSnapUserView u;
        uint32_t uid = 0;
        int r;

        if (argc != 2 || !argv[1][0]) {
                fprintf(stderr, "Usage: %s USER\n", argc > 0 ? argv[0] : "provision-ssh-keys");
                return 2;
        }
        name = argv[1];
        if (strnlen(name, 256) > 255)
                return 0; /* no account has such a name */
        /* An account of /etc/passwd is the host's own, whatever the snapshot says about its name:
         * the directory's keys never log in as it. Unreadable: decided on the snapshot. */
        if (prov_local_user_exists(NULL, name) > 0)
                return 0;

        spath = prov_cache_default_path();
        r = prov_snapshot_open(spath, &snap);
        if (r == -ENOENT)
                return 0; /* nothing provisioned: no directory user has keys */
        if (r < 0) {
                fprintf(stderr, "provision-ssh-keys: cannot read the snapshot %s: %s\n", spath, strerror(-r));
                return 1;
        }
        r = prov_snapshot_user_by_name(snap, name, &u);
        if (r == -ENOENT)
                return 0; /* not one of ours: local accounts use their own authorized_keys */
        if (r < 0) {
                fprintf(stderr, "provision-ssh-keys: cannot read the snapshot %s: %s\n", spath, strerror(-r));
                return 1;
        }
        /* Suspended, deprovisioned, blocked: no key, exactly as no password. */
        if (u.state != PROV_STATE_ACTIVE)
                return 0;

        kpath = keys_path(spath);
        if (!kpath)
                return 1;
        r = prov_sshkeys_open(kpath, &keys);
        if (r == -ENOENT)
                return 0;
        /* Keys that anyone but root could have written are anyone's: none is printed. */
        if (r == -EPERM) {
                fprintf(stderr, "provision-ssh-keys: the keys file %s is owned or writable by another user than "
                        "root; no keys printed\n", kpath);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "provision-ssh-keys: cannot read the keys file %s: %s\n", kpath, strerror(-r));
                return 1;
        }
        if (prov_sshkeys_generation(keys) != prov_snapshot_generation(snap)) {
                fprintf(stderr, "provision-ssh-keys: the keys file %s is not the snapshot's (generation %llu, "
                        "snapshot %llu); no keys printed\n", kpath,
                        (unsigned long long) prov_sshkeys_generation(keys),
                        (unsigned long long) prov_snapshot_generation(snap));
                return 0;
        }
        r = prov_sshkeys_lookup(keys, name, &uid, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                fprintf(stderr, "provision-ssh-keys: cannot read the keys file %s: %s\n", kpath, strerror(-r));
                return 1;
        }
        if (uid != u.uid)
                return 0; /* a record of another account of that name */
        r = print_keys(text);
        if (r < 0) {
                fprintf(stderr, "provision-ssh-keys: cannot write the keys: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
