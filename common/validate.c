/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "prov-util.h"
#include "prov-validate.h"

/* ASCII-only classes: the C library's are locale dependent, and a name must mean the same
 * thing to every process on the host whatever its locale. */
static bool ascii_lower(char c) {
        return c >= 'a' && c <= 'z';
}

static bool ascii_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool valid_posix_name(const char *s) {
        size_t n;
        bool all_digits = true;

        if (!s || !*s)
                return false;
        if (!ascii_lower(s[0]) && s[0] != '_')
                return false;

        for (n = 0; s[n]; n++) {
                char c = s[n];

                if (n >= PROV_NAME_MAX)
                        return false;
                if (!ascii_digit(c))
                        all_digits = false;
                if (ascii_lower(c) || ascii_digit(c) || c == '_')
                        continue;
                /* '.' and '-' only after the first byte, so "." ".." and "-rf" can never pass. */
                if (n > 0 && (c == '.' || c == '-'))
                        continue;
                return false;
        }

        /* Cannot happen with the first-byte rule, kept so the rule survives edits: an
         * all-digit name would be taken for a numeric id by chown and friends. */
        return !all_digits;
}

bool prov_valid_user_name(const char *s) {
        return valid_posix_name(s);
}

bool prov_valid_group_name(const char *s) {
        return valid_posix_name(s);
}

bool prov_valid_utf8(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0;

        if (!s)
                return false;

        while (i < len) {
                unsigned char c = p[i];
                uint32_t cp;
                size_t n;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        cp = c & 0x07;
                } else
                        return false; /* continuation byte, overlong lead 0xc0/0xc1, or > U+10FFFF */

                if (len - i <= n)
                        return false;
                for (size_t k = 1; k <= n; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }

                /* Reject overlong forms, UTF-16 surrogates and code points beyond Unicode. */
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
                        return false;
                if (cp >= 0xd800 && cp <= 0xdfff)
                        return false;
                if (cp > 0x10ffff)
                        return false;
                i += n + 1;
        }

        return true;
}

bool prov_has_control_chars(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        for (; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        return true;
                /* C1 controls U+0080..U+009F are encoded as 0xc2 0x80..0x9f. */
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        return true;
        }
        return false;
}

/* Eight bytes at a time where the host allows unaligned little-endian word loads through
 * memcpy(); elsewhere the byte loops alone. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORD_SCAN 1
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* True if a word of ASCII bytes (no high bit set) holds a byte below 0x20 or DEL (a byte
 * equal to 0x7f is a zero byte of w ^ 0x7f...). A borrow can only flag a byte above one that
 * matches, so "any" is exact. */
static bool word_has_control(uint64_t w) {
        uint64_t del = w ^ (ONES * 0x7f);

        return (((w - ONES * 0x20) & ~w) | ((del - ONES) & ~del)) & HIGHS;
}
#endif

bool prov_valid_text(const char *s, size_t len) {
        size_t i = 0;

        if (!s)
                return false;
#ifdef WORD_SCAN
        /* Plain ASCII without controls: the common case, skipped a word at a time. */
        for (; i + 8 <= len; i += 8) {
                uint64_t w;

                memcpy(&w, s + i, 8);
                if ((w & HIGHS) != 0 || word_has_control(w))
                        break;
        }
#endif
        /* The rest byte by byte; i is at a character boundary (only ASCII was skipped). */
        return prov_valid_utf8(s + i, len - i) && !prov_has_control_chars(s + i);
}

/* True if s holds an invisible character that reorders or breaks the text a terminal shows:
 * the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069) and the line and paragraph separators (U+2028, U+2029). */
static bool has_format_chars(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        for (; *p; p++) {
                if (p[0] == 0xd8 && p[1] == 0x9c)
                        return true;
                if (p[0] != 0xe2 || !p[1] || !p[2])
                        continue;
                if (p[1] == 0x80 && (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xa8 && p[2] <= 0xae)))
                        return true;
                if (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
                        return true;
        }
        return false;
}

bool prov_valid_gecos(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n > PROV_GECOS_MAX)
                return false;
        if (!prov_valid_utf8(s, n))
                return false;
        if (strchr(s, ':'))
                return false;
        return !prov_has_control_chars(s) && !has_format_chars(s);
}

bool prov_valid_home(const char *s) {
        size_t n;

        if (!s || s[0] != '/')
                return false;
        n = strlen(s);
        if (n > PROV_HOME_MAX)
                return false;
        if (!prov_valid_utf8(s, n) || prov_has_control_chars(s) || strchr(s, ':'))
                return false;
        if (n == 1)
                return true;
        if (s[n - 1] == '/')
                return false;

        /* Walk the components between slashes: none may be empty, "." or "..". */
        for (const char *p = s + 1;;) {
                const char *e = strchrnul(p, '/');
                size_t k = (size_t) (e - p);

                if (k == 0)
                        return false;
                if ((k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (!*e)
                        break;
                p = e + 1;
        }
        return true;
}

bool prov_valid_shell(const char *s, char *const *allowed) {
        if (!s || !allowed)
                return false;
        for (char *const *a = allowed; *a; a++)
                if (streq(*a, s))
                        return true;
        return false;
}

int prov_login_name_from(const char *user_name, bool strip_domain, char **ret) {
        _cleanup_free_ char *name = NULL;

        if (!user_name || !ret)
                return -EINVAL;

        if (strip_domain) {
                const char *at = strrchr(user_name, '@');

                name = at ? strndup(user_name, (size_t) (at - user_name)) : strdup(user_name);
        } else
                name = strdup(user_name);
        if (!name)
                return -ENOMEM;

        for (char *p = name; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');

        if (!prov_valid_user_name(name))
                return -EINVAL;

        *ret = TAKE_PTR(name);
        return 0;
}

/* The names of Debian's base-passwd and the system accounts and groups that common packages
 * create in their maintainer scripts (adduser --system, addgroup --system), in strcmp() order.
 * Such scripts adopt a name that resolves already ("getent group docker || addgroup ..."), so a
 * directory group named like one would come to own the package's sockets and files. */
static const char *const system_names[] = {
        "_flatpak", "adm", "admin", "amavis", "ansible", "apache", "apache2", "audio", "audit", "auditd",
        "avahi", "avahi-autoipd", "backup", "backuppc", "bacula", "bin", "bind", "bluetooth", "caddy",
        "carbon", "cassandra", "cdrom", "ceph", "chef", "chrony", "clamav", "collectd", "colord",
        "colord-users", "consul", "containerd", "couchdb", "crontab", "crowdsec", "cups", "cups-pk-helper",
        "daemon", "dbus", "debian-spamd", "debian-tor", "dialout", "dip", "disk", "dnscrypt-proxy",
        "dnsmasq", "docker", "dovecot", "dovenull", "elasticsearch", "etcd", "exim", "fail2ban", "fax",
        "fcgiwrap", "fetchmail", "filebeat", "flatpak", "floppy", "fluentd", "frr", "ftp", "fwupd-refresh",
        "games", "gdm", "geoclue", "geoclue-users", "git", "gitlab", "gitlab-runner", "gnats", "gpio",
        "grafana", "graphite", "gunicorn", "hadoop", "haproxy", "hdfs", "hplip", "httpd", "i2c", "i2p",
        "icinga", "incus", "incus-admin", "influxdb", "input", "irc", "jenkins", "jetty", "journal",
        "kafka", "keepalived", "kernoops", "kibana", "kmem", "knot", "kube", "kvm", "kvm-users",
        "landscape", "libvirt", "libvirt-dnsmasq", "libvirt-qemu", "libvirtd", "lightdm", "lighttpd",
        "list", "logstash", "lp", "lpadmin", "lxc", "lxd", "lxd-admin", "mail", "mailman", "man",
        "mariadb", "memcache", "memcached", "messagebus", "milter", "minio", "mlocate", "mongodb",
        "mosquitto", "munin", "mysql", "nagios", "named", "netadmin", "netdata", "netdev", "netdev-users",
        "news", "nginx", "nixbld", "nm-openconnect", "nm-openvpn", "nobody", "nogroup", "nomad", "nscd",
        "nslcd", "ntp", "ntpsec", "nvidia-persistenced", "ollama", "opendkim", "opendmarc", "openldap",
        "openvpn", "openvswitch", "operator", "osquery", "ossec", "ovs", "pcp", "pdns", "php-fpm",
        "plocate", "plugdev", "podman", "polkitd", "polkituser", "pollinate", "postdrop", "postfix",
        "postgres", "postgrey", "privoxy", "proftpd", "prometheus", "proxy", "pulse", "pulse-access",
        "puppet", "qemu", "quagga", "rabbitmq", "radvd", "redis", "redsocks", "render", "render-users",
        "root", "rpc", "rpcuser", "rsyslog", "rtkit", "salt", "sambashare", "saned", "sanlock", "sasl",
        "scanner", "sddm", "sgx", "shadow", "shared", "slapd", "smbguest", "snap", "snapd", "snmp", "solr",
        "spamd", "speech-dispatcher", "spi", "squid", "src", "sshd", "ssl-cert", "sssd", "staff", "statd",
        "statsd", "strongswan", "stunnel4", "sudo", "sympa", "sync", "sys", "syslog", "systemd-journal",
        "tape", "tcpdump", "td-agent", "telegraf", "terraform", "tftp", "tomcat", "tomcat10", "tomcat9",
        "tor", "tpm", "traefik", "tss", "tty", "unbound", "usbmux", "users", "utmp", "uucp", "uuidd",
        "uwsgi", "vagrant", "varnish", "varnishlog", "vault", "vboxsf", "vboxusers", "video",
        "video-users", "voice", "vsftpd", "wazuh", "wheel", "whoopsie", "winbindd_priv", "wireshark",
        "www-data", "zabbix", "zookeeper",
};

static int cmp_name(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

bool prov_system_name(const char *name) {
        if (!name)
                return false;
        /* Debian's and systemd's own conventions for system accounts. */
        if (name[0] == '_' || strncmp(name, "systemd-", 8) == 0 || strncmp(name, "debian-", 7) == 0)
                return true;
        return bsearch(&name, system_names, ELEMENTSOF(system_names), sizeof(char *), cmp_name) != NULL;
}

bool prov_system_names_sorted(void) {
        for (size_t i = 1; i < ELEMENTSOF(system_names); i++)
                if (strcmp(system_names[i - 1], system_names[i]) >= 0)
                        return false;
        return true;
}

/* Key types we publish: what current OpenSSH accepts by default. ssh-dss is off by default
 * since OpenSSH 7.0 and removed in 9.8; certificates are not keys of a user. */
static const char *const ssh_key_types[] = {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
};

/* The value of a base64 character, or -1. */
static int b64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* Decodes the first max bytes of canonical, padded base64 s[0..len) into out; returns the decoded
 * length (the whole blob's, even when more than max), or -1 if s is not canonical base64. */
static ssize_t b64_decode_prefix(const char *s, size_t len, uint8_t *out, size_t max) {
        size_t n = 0;

        if (len == 0 || len % 4 != 0)
                return -1;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                size_t pad = 0;

                for (size_t k = 0; k < 4; k++) {
                        if (s[i + k] == '=') {
                                /* Padding only in the last quantum, at most two, only at its end. */
                                if (i + 4 != len || k < 2)
                                        return -1;
                                v[k] = 0;
                                pad++;
                                continue;
                        }
                        if (pad > 0 || (v[k] = b64_value(s[i + k])) < 0)
                                return -1;
                }
                uint32_t q = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6 | (uint32_t) v[3];
                /* Canonical: the bits dropped by the padding are zero. */
                if ((pad == 1 && (q & 0xff) != 0) || (pad == 2 && (q & 0xffff) != 0))
                        return -1;
                for (size_t k = 0; k < 3 - pad; k++, n++)
                        if (n < max)
                                out[n] = (uint8_t) (q >> (16 - 8 * k));
        }
        return (ssize_t) n;
}

bool prov_valid_ssh_key(const char *s, const char **ret_why) {
        const char *why = NULL, *type = NULL, *sp, *b64, *end;
        uint8_t head[4 + 64];
        size_t n, tn = 0;
        ssize_t dn;

        if (!s) {
                why = "missing";
                goto refused;
        }
        n = strnlen(s, PROV_SSH_KEY_MAX + 1);
        if (n == 0) {
                why = "empty";
                goto refused;
        }
        if (n > PROV_SSH_KEY_MAX) {
                why = "longer than 16384 bytes";
                goto refused;
        }
        /* No newline, CR, TAB or other control character anywhere, and valid UTF-8: one line. */
        if (!prov_valid_text(s, n)) {
                why = "invalid UTF-8 or control character";
                goto refused;
        }
        sp = strchr(s, ' ');
        if (!sp) {
                why = "not \"TYPE BASE64 [COMMENT]\"";
                goto refused;
        }
        for (size_t i = 0; i < ELEMENTSOF(ssh_key_types); i++)
                if ((size_t) (sp - s) == strlen(ssh_key_types[i]) && memcmp(s, ssh_key_types[i], sp - s) == 0) {
                        type = ssh_key_types[i];
                        tn = strlen(type);
                }
        if (!type) {
                why = (sp - s == 7 && memcmp(s, "ssh-dss", 7) == 0) ? "DSA keys (ssh-dss) are not accepted"
                                                                    : "unknown key type, or an options prefix";
                goto refused;
        }
        b64 = sp + 1;
        end = strchr(b64, ' ');
        /* A comment may be empty: "ssh-keygen -C ''" writes "TYPE BASE64 ". */
        if (!end)
                end = s + n;
        dn = b64_decode_prefix(b64, (size_t) (end - b64), head, sizeof(head));
        if (dn < 0) {
                why = "key data is not valid base64";
                goto refused;
        }
        /* The blob names its own type: uint32 length (big endian), then the type string. */
        if ((size_t) dn < 4 + tn || head[0] != 0 || head[1] != 0 || head[2] != 0 || head[3] != tn ||
            memcmp(head + 4, type, tn) != 0) {
                why = "key data is not a key of its stated type";
                goto refused;
        }
        return true;

refused:
        if (ret_why)
                *ret_why = why;
        return false;
}
