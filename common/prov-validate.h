/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Validators for everything that ends up in a passwd or group entry. libc only, no
 * allocation except in prov_login_name_from(). A value that fails here is skipped by the
 * caller, never repaired: a mangled name could collide with somebody else's. */

#include <stdbool.h>
#include <stddef.h>

/* Longest login or group name we hand out; glibc and shadow-utils accept 32 portably. */
#define PROV_NAME_MAX 32
/* Longest gecos and home directory. */
#define PROV_GECOS_MAX 255
#define PROV_HOME_MAX 255

/* Portable POSIX name: ^[a-z_][a-z0-9_.-]{0,31}$. Names that collide with local accounts
 * ("root", "bin") are valid here; collisions are checked by the mapping. NULL is invalid. */
bool prov_valid_user_name(const char *s);
bool prov_valid_group_name(const char *s);

/* Valid UTF-8, at most 255 bytes, no ':' (field separator), no C0, DEL or C1 control
 * characters. ',' is allowed (it separates the classic gecos subfields). "" is valid. */
bool prov_valid_gecos(const char *s);

/* Absolute path of at most 255 bytes in valid UTF-8: no empty ("//"), "." or ".."
 * components, no trailing '/' (except "/" itself), no ':' and no control characters. */
bool prov_valid_home(const char *s);

/* True if s is exactly one of the NULL-terminated list allowed. A NULL list allows nothing. */
bool prov_valid_shell(const char *s, char *const *allowed);

/* Login name from a SCIM userName: with strip_domain, everything from the last '@' is
 * dropped; ASCII letters are lowercased; the result must pass prov_valid_user_name().
 * Returns 0 and a malloc'ed name in *ret, -EINVAL if the name is not acceptable (never
 * mangled into something else), -ENOMEM. */
int prov_login_name_from(const char *user_name, bool strip_domain, char **ret);

/* True for a name that a system account or group has or may get later: Debian's base-passwd,
 * the --system names of common packages (docker, libvirt, postgres, wireshark...), and every name
 * starting with "_", "systemd-" or "debian-". A directory name that is one is never served. */
bool prov_system_name(const char *name);
/* For the unit test: the built-in list is in strcmp() order (bsearch relies on it). */
bool prov_system_names_sorted(void);

/* Strict UTF-8 of exactly len bytes: shortest form only, no surrogates, nothing above
 * U+10FFFF, no NUL byte. */
bool prov_valid_utf8(const char *s, size_t len);

/* True if the UTF-8 string s contains a C0 control, DEL or a C1 control (U+0080..U+009F).
 * s must already be valid UTF-8. */
bool prov_has_control_chars(const char *s);

/* prov_valid_utf8(s, len) && !prov_has_control_chars(s), in one pass that takes plain ASCII
 * eight bytes at a time: the check of every string that comes from a directory. */
bool prov_valid_text(const char *s, size_t len);

/* SSH public keys from the directory, as sshd's AuthorizedKeysCommand prints them. */
#define PROV_SSH_KEYS_MAX 32            /* keys per account */
#define PROV_SSH_KEY_MAX 16384          /* bytes per key line */

/* One OpenSSH public key line, exactly "TYPE BASE64" or "TYPE BASE64 COMMENT": TYPE is one of
 * ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com,
 * sk-ecdsa-sha2-nistp256@openssh.com (ssh-dss is refused); BASE64 is canonical base64 whose
 * decoded blob starts with TYPE as an SSH string (uint32 length, then the bytes); the comment is
 * UTF-8 without control characters (possibly empty). Nothing may come before TYPE: an options prefix
 * ("command=...", "from=...") would let the directory restrict or widen what the key may do on
 * this host, which is the host's decision, not the directory's. At most PROV_SSH_KEY_MAX bytes,
 * no newline, no NUL. When it returns false and ret_why is not NULL, *ret_why is a static
 * reason. */
bool prov_valid_ssh_key(const char *s, const char **ret_why);
