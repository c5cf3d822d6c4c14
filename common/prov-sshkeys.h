/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The SSH keys file: the directory users' OpenSSH public keys, published by provision-syncd
 * beside the snapshot (STATE_DIR/ssh-keys) after each snapshot, and read by provision-ssh-keys
 * for sshd's AuthorizedKeysCommand. A file of its own rather than a section of the snapshot:
 * only that helper reads it, and the NSS module never maps a byte of it. libc only.
 *
 * Layout (integers little endian, every offset checked by the reader):
 *   header   "PROVSSHK", u32 version (1), u32 n_records, u64 generation (the snapshot's),
 *            u64 file size
 *   table    prov_sshkeys_buckets(n_records) u32 buckets: the offset of a record, 0 = empty;
 *            a record is in the bucket of prov_sshkeys_hash(name) or, linear probing, after it
 *   records  u32 uid, u32 name_len, u32 keys_len, name bytes, NUL, keys bytes, NUL; in
 *            strcmp() order of the names (the table makes a lookup a few small reads)
 * keys are the validated key lines joined by '\n' (no trailing newline). Only accounts that are
 * served and active have a record; a file without records is valid (no keys for anyone).
 *
 * Errors: -ENOENT (no file, or no record for the name), -EBADMSG (foreign, truncated or corrupt
 * file), -EFBIG (larger than PROV_SSHKEYS_FILE_MAX), other -errno of open/fstat/pread/write. */

#include <stddef.h>
#include <stdint.h>

#define PROV_SSHKEYS_MAGIC "PROVSSHK"
#define PROV_SSHKEYS_VERSION 1u
#define PROV_SSHKEYS_HEADER_SIZE 32u
/* 100k accounts with a few keys each take tens of MB; a file beyond this is not ours. */
#define PROV_SSHKEYS_FILE_MAX (1024u * 1024u * 1024u)

/* FNV-1a (32 bits) of a name. */
static inline uint32_t prov_sshkeys_hash(const char *name) {
        uint32_t h = 2166136261u;
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 16777619u;
        return h;
}

/* Buckets of a file of n records: a power of two at least 2n (1 for none). */
static inline size_t prov_sshkeys_buckets(size_t n) {
        size_t nb = 1;
        while (nb < 2 * n)
                nb *= 2;
        return nb;
}

typedef struct ProvSshKeysRecord {
        const char *name;       /* login name, 1..255 bytes */
        const char *keys;       /* validated key lines joined by '\n', non-empty */
        uint32_t uid;
} ProvSshKeysRecord;

/* Writes the file: a temp file beside path, fsync, mode 0644, rename over path. recs are
 * sorted by name in place; a name present twice is -EINVAL. n may be 0. */
int prov_sshkeys_write(const char *path, uint64_t generation, ProvSshKeysRecord *recs, size_t n);

/* "ssh-keys" in the directory of the snapshot at snapshot_path (malloc'ed), where the daemon
 * publishes it and the helper looks for it. */
char *prov_sshkeys_path_beside(const char *snapshot_path);

typedef struct ProvSshKeys ProvSshKeys;

/* Opens the file and checks its header (magic, version, stated size) and index bounds. Records
 * are read on demand (pread), each checked as it is read. */
int prov_sshkeys_open(const char *path, ProvSshKeys **ret);
ProvSshKeys *prov_sshkeys_close(ProvSshKeys *k);
static inline void prov_sshkeys_closep(ProvSshKeys **k) {
        if (*k)
                *k = prov_sshkeys_close(*k);
}
uint64_t prov_sshkeys_generation(const ProvSshKeys *k);
size_t prov_sshkeys_count(const ProvSshKeys *k);

/* The record of a login name: its uid and its keys (borrowed from the handle until its next
 * lookup or close, NUL-terminated, keys_len bytes without the NUL). -ENOENT when there is none.
 * The record's bytes are checked (bounds, NULs, no NUL inside); the keys' syntax is not: callers
 * print only lines that pass prov_valid_ssh_key(). */
int prov_sshkeys_lookup(ProvSshKeys *k, const char *name, uint32_t *ret_uid, const char **ret_keys,
                        size_t *ret_keys_len);
