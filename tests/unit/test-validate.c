/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prov-util.h"
#include "prov-validate.h"

typedef struct NameCase {
        const char *name;
        bool valid;
} NameCase;

static const NameCase name_cases[] = {
        { "alice", true },
        { "a", true },
        { "_", true },
        { "_svc", true },
        { "alice.martin", true },
        { "alice-martin", true },
        { "alice_martin", true },
        { "a1", true },
        { "x2345678901234567890123456789012", true },   /* 32 bytes */
        { "root", true },                               /* collisions are checked later */
        { "bin", true },
        { "nobody", true },
        { "alice.", true },
        { "a..b", true },
        { "", false },
        { "x23456789012345678901234567890123", false },  /* 33 bytes */
        { "-alice", false },
        { ".alice", false },
        { ".", false },
        { "..", false },
        { "1alice", false },
        { "12345", false },                             /* all digits */
        { "0", false },
        { "Alice", false },
        { "aLICE", false },
        { "alice:x", false },
        { "alice,bob", false },
        { "alice\n", false },
        { "al\tice", false },
        { "alice bob", false },
        { "alice@example.com", false },
        { "alice$", false },
        { "al/ice", false },
        { "al\\ice", false },
        { "alïce", false },                             /* non-ASCII */
        { "ålice", false },
        { "\xff", false },
        { "al\x7f", false },
        { "alice\x01", false },
        { "*", false },
        { "+alice", false },
};

static void test_user_and_group_names(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(name_cases); i++) {
                if (prov_valid_user_name(name_cases[i].name) != name_cases[i].valid)
                        fail_msg("user name '%s': expected %s", name_cases[i].name,
                                 name_cases[i].valid ? "valid" : "invalid");
                if (prov_valid_group_name(name_cases[i].name) != name_cases[i].valid)
                        fail_msg("group name '%s': expected %s", name_cases[i].name,
                                 name_cases[i].valid ? "valid" : "invalid");
        }
        assert_false(prov_valid_user_name(NULL));
        assert_false(prov_valid_group_name(NULL));
}

static void test_utf8(void **state) {
        assert_true(prov_valid_utf8("", 0));
        assert_true(prov_valid_utf8("abc", 3));
        assert_true(prov_valid_utf8("Zoë Ørsted", strlen("Zoë Ørsted")));
        assert_true(prov_valid_utf8("日本語", strlen("日本語")));
        assert_true(prov_valid_utf8("\xf0\x9f\x98\x80", 4));           /* U+1F600 */
        assert_true(prov_valid_utf8("\xf4\x8f\xbf\xbf", 4));           /* U+10FFFF */
        assert_false(prov_valid_utf8("\xc3", 1));                      /* truncated */
        assert_false(prov_valid_utf8("\xe6\x97", 2));                  /* truncated */
        assert_false(prov_valid_utf8("\x80", 1));                      /* lone continuation */
        assert_false(prov_valid_utf8("\xc0\xaf", 2));                  /* overlong '/' */
        assert_false(prov_valid_utf8("\xe0\x80\xaf", 3));              /* overlong */
        assert_false(prov_valid_utf8("\xf0\x80\x80\xaf", 4));          /* overlong */
        assert_false(prov_valid_utf8("\xed\xa0\x80", 3));              /* surrogate U+D800 */
        assert_false(prov_valid_utf8("\xf4\x90\x80\x80", 4));          /* U+110000 */
        assert_false(prov_valid_utf8("\xff", 1));
        assert_false(prov_valid_utf8("a\0b", 3));                      /* NUL inside */
        assert_false(prov_valid_utf8(NULL, 0));
}

/* The word-at-a-time check agrees with the byte loops it stands for, wherever in a word the
 * odd byte sits and whatever follows it. */
static void test_valid_text_matches_byte_loops(void **state) {
        static const char *const tails[] = { "", "x", "\xc3\xa9", "\xc2\x85", "\x7f", "\xe2\x82", "abcdefghijk" };
        char buf[64];

        for (size_t len = 0; len <= 24; len++)
                for (size_t pos = 0; pos < len; pos++)
                        for (unsigned b = 1; b < 256; b++)
                                for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
                                        size_t n;

                                        memset(buf, 'a', len);
                                        buf[pos] = (char) b;
                                        strcpy(buf + len, tails[t]);
                                        n = strlen(buf);
                                        bool want = prov_valid_utf8(buf, n) && !prov_has_control_chars(buf);
                                        if (prov_valid_text(buf, n) != want)
                                                fail_msg("len %zu pos %zu byte 0x%02x tail %zu: got %d", len, pos, b, t, !want);
                                }
        assert_true(prov_valid_text("plain ascii text, longer than a word", 36));
        assert_false(prov_valid_text("plain ascii text\x1f longer than a word", 38));
        assert_false(prov_valid_text("plain ascii text\x7f longer than a word", 38));
        assert_false(prov_valid_text("eight by\xc2\x9f", 10));
        assert_false(prov_valid_text(NULL, 0));
}

static void test_gecos(void **state) {
        char big[300];

        assert_true(prov_valid_gecos(""));
        assert_true(prov_valid_gecos("Alice Martin"));
        assert_true(prov_valid_gecos("Alice Martin,Room 4,555-1234,,"));      /* ',' allowed */
        assert_true(prov_valid_gecos("Zoë Ørsted-Ærø"));
        assert_true(prov_valid_gecos("山田 太郎"));
        assert_false(prov_valid_gecos(NULL));
        assert_false(prov_valid_gecos("Alice:Martin"));
        assert_false(prov_valid_gecos("Alice\nMartin"));
        assert_false(prov_valid_gecos("Alice\rMartin"));
        assert_false(prov_valid_gecos("Alice\tMartin"));
        assert_false(prov_valid_gecos("Alice\x7f"));
        assert_false(prov_valid_gecos("Alice\xc2\x85"));       /* C1 NEL */
        assert_false(prov_valid_gecos("Alice\xc3"));           /* invalid UTF-8 */
        assert_false(prov_valid_gecos("\xc0\xba"));            /* overlong ':' */

        memset(big, 'a', sizeof(big));
        big[255] = 0;
        assert_true(prov_valid_gecos(big));
        big[255] = 'a';
        big[256] = 0;
        assert_false(prov_valid_gecos(big));
}

static void test_home(void **state) {
        char big[300];

        assert_true(prov_valid_home("/home/alice"));
        assert_true(prov_valid_home("/"));
        assert_true(prov_valid_home("/home/alice.martin"));
        assert_true(prov_valid_home("/home/..alice"));
        assert_true(prov_valid_home("/home/café"));
        assert_false(prov_valid_home(NULL));
        assert_false(prov_valid_home(""));
        assert_false(prov_valid_home("home/alice"));
        assert_false(prov_valid_home("~alice"));
        assert_false(prov_valid_home("/home/alice/"));
        assert_false(prov_valid_home("//home/alice"));
        assert_false(prov_valid_home("/home//alice"));
        assert_false(prov_valid_home("/home/./alice"));
        assert_false(prov_valid_home("/home/../etc"));
        assert_false(prov_valid_home("/home/alice/.."));
        assert_false(prov_valid_home("/home/alice/."));
        assert_false(prov_valid_home("/home/al:ice"));
        assert_false(prov_valid_home("/home/al\nice"));
        assert_false(prov_valid_home("/home/al\x7fice"));
        assert_false(prov_valid_home("/home/\xff"));

        big[0] = '/';
        memset(big + 1, 'a', sizeof(big) - 1);
        big[255] = 0;
        assert_true(prov_valid_home(big));
        big[255] = 'a';
        big[256] = 0;
        assert_false(prov_valid_home(big));
}

static void test_shell(void **state) {
        char *const allowed[] = { (char *) "/bin/bash", (char *) "/usr/bin/zsh", NULL };
        char *const empty[] = { NULL };

        assert_true(prov_valid_shell("/bin/bash", allowed));
        assert_true(prov_valid_shell("/usr/bin/zsh", allowed));
        assert_false(prov_valid_shell("/bin/sh", allowed));
        assert_false(prov_valid_shell("/bin/bash ", allowed));
        assert_false(prov_valid_shell("/bin/bas", allowed));
        assert_false(prov_valid_shell("", allowed));
        assert_false(prov_valid_shell(NULL, allowed));
        assert_false(prov_valid_shell("/bin/bash", NULL));
        assert_false(prov_valid_shell("/bin/bash", empty));
}

static void check_login(const char *in, bool strip, const char *expected) {
        char *out = (char *) 0x1;
        int r;

        r = prov_login_name_from(in, strip, &out);
        if (expected) {
                if (r != 0)
                        fail_msg("'%s' (strip=%d): expected '%s', got %d", in, strip, expected, r);
                assert_string_equal(out, expected);
                free(out);
        } else {
                if (r != -EINVAL)
                        fail_msg("'%s' (strip=%d): expected -EINVAL, got %d", in, strip, r);
                /* ret_ out-parameters are written only on success. */
                assert_ptr_equal(out, (char *) 0x1);
        }
}

static void test_login_name_from(void **state) {
        check_login("alice", false, "alice");
        check_login("Alice.Martin", false, "alice.martin");
        check_login("alice.martin@example.com", true, "alice.martin");
        check_login("Alice.Martin@Example.COM", true, "alice.martin");
        check_login("ROOT", false, "root");
        check_login("alice.martin@example.com", false, NULL);   /* '@' is not a name byte */
        check_login("@example.com", true, NULL);
        check_login("alice@b@example.com", true, NULL);         /* not mangled to "alice" */
        check_login("Zoë@example.com", true, NULL);             /* never transliterated */
        check_login("ALÏCE", false, NULL);
        check_login("-alice@example.com", true, NULL);
        check_login("1234@example.com", true, NULL);
        check_login("alice martin@example.com", true, NULL);
        check_login("x23456789012345678901234567890123@example.com", true, NULL);
        check_login("", false, NULL);
        check_login("alice\n@example.com", true, NULL);
        assert_int_equal(prov_login_name_from(NULL, false, &(char *) { NULL }), -EINVAL);
}

/* The built-in system names: sorted (bsearch relies on it), and the conventions by prefix. */
static void test_system_names(void **state) {
        (void) state;
        assert_true(prov_system_names_sorted());
        for (const char *const *n = (const char *const[]) { "root", "docker", "libvirt", "postgres", "wireshark", "kvm",
                                                            "lxd", "sudo", "adm", "wheel", "nogroup", "_apt",
                                                            "systemd-network", "debian-tor", NULL };
             *n; n++)
                if (!prov_system_name(*n))
                        fail_msg("'%s' is not a system name", *n);
        for (const char *const *n = (const char *const[]) { "alice", "engineering", "docker-users", "admins", "a_b", NULL };
             *n; n++)
                if (prov_system_name(*n))
                        fail_msg("'%s' is taken for a system name", *n);
        assert_false(prov_system_name(NULL));
}

/* Public keys made by ssh-keygen for these tests (the private halves were thrown away). */
#define KEY_ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nw ada@laptop"
#define KEY_RSA "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC1ZZIeCtfvMG7uRUF+K4+6ZklKLujN3VWt5ePieP4QoB60qypEHTxwK8Y9XE7xIx62wwUTqMCxlcvKKRgJ2GuGyQ9qJSYwHc+qVqkFd1JFJQmNzUq4MB3s7V/09JGHuabZy3LwRJkxo1ySnj8GBcqGofwWcF503i1y40lgKES4hQ== "
#define KEY_ECDSA "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBBnfYA4jilOOfZ9BMDa14r7pN1eR2KHzLMI1pSGwJ3cw8uSuK4A+uDk3TGbQcu5sdArWLvdtCwOYU+p7Yi9rfAoPYtR+Bj2HcslHthkfn7CPM3XlleP9uakm9Agfb19I7A== é ünïcode"
#define KEY_DSA "ssh-dss AAAAB3NzaC1kc3MAAACBAPspseWa92G/jHpMe8f/6jy8Vsks8V9mTkZgw9eU9O/WbgN/MX3HFz1MEMEUE3nFT++D5aE82X6PB2nkvsVzBLZbX6zJ2NM/eML/7+1uR5hA7GXuROBhYzccmBZomP5a0MXmmQEu/fsx1azLSD++3x7xROEoQiPR+e56PrbPLUSRAAAAFQDuvbHHYSb7SNXSpeQjExVjTm+cpQAAAIAdCudYmgOCByVmNqbYMlewSBKZZZNFTwbECzGgp0M9b6cNK7erhCbPp/mEIWO7T40WMKTdrbcFxMWo0XMuBzLmoRNji0BLMDExFs3iV+Ec3/D/2EK2odjE+ILvyJrHwAwG2xGfKken9mu/4ZvquAzLpPTB4lZ0xeWaUh55K5EH8AAAAIEAxQIjnRmxbWP4D2h4IUnuFlWhOnpPKuMqNYPshaIohVqQajpePmcYG2jPG2/A8t74BRkE0HmaaQDzckO4d4fk+42/vWfcLrpLZEiD4rWalVB1JgmAK8mZVwQ0B0hxQfVoAm7skLE1ePX6Vay8HS4Mmt6P/R7EFNBFNzaI3VXuCyc= root@vm"

static void test_ssh_key(void **state) {
        static const struct {
                const char *line;
                bool valid;
        } cases[] = {
                { KEY_ED25519, true },
                { KEY_RSA, true }, /* empty comment: "TYPE BASE64 " as ssh-keygen -C '' writes it */
                { KEY_ECDSA, true }, /* UTF-8 comment */
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nw", true },
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nw two words", true },
                { KEY_DSA, false },
                { "", false },
                { "ssh-ed25519", false },
                { "ssh-ed25519 ", false },
                /* options prefix, and a leading blank */
                { "command=\"/bin/sh\" " KEY_ED25519, false },
                { "from=\"10.0.0.1\" " KEY_ED25519, false },
                { " " KEY_ED25519, false },
                /* two spaces between type and data */
                { "ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nw", false },
                /* unknown types, certificates */
                { "ssh-ed448 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nw", false },
                { "ssh-ed25519-cert-v01@openssh.com AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nw", false },
                /* the blob is of another type than stated */
                { "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nw", false },
                /* not base64: a bad character, a missing quantum, padding inside, non-zero pad bits */
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31n*", false },
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31n", false },
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1=a/wODHi8WXrmAe7K1IO31nw", false },
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO31nx", true },
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO3w==", true },
                { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRGcwDtVn4mH4Wtz8Q1Ea/wODHi8WXrmAe7K1IO3x==", false },
                /* too short to hold the type */
                { "ssh-ed25519 AAAAC3Nz", false },
                /* newline, CR, TAB, other controls, invalid UTF-8 in the comment */
                { KEY_ED25519 "\n" KEY_ED25519, false },
                { KEY_ED25519 "\r", false },
                { KEY_ED25519 "\tx", false },
                { KEY_ED25519 " \x1b[2J", false },
                { KEY_ED25519 " \xc3\x28", false },
                { KEY_ED25519 " \xc2\x85", false },
        };
        const char *why;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                why = NULL;
                if (prov_valid_ssh_key(cases[i].line, &why) != cases[i].valid)
                        fail_msg("case %zu: expected %s (%s)", i, cases[i].valid ? "valid" : "invalid", why ?: "");
                if (!cases[i].valid)
                        assert_non_null(why);
        }
        assert_false(prov_valid_ssh_key(NULL, NULL));
        assert_true(prov_valid_ssh_key(KEY_ED25519, NULL));
        why = NULL;
        assert_false(prov_valid_ssh_key(KEY_DSA, &why));
        assert_string_equal(why, "DSA keys (ssh-dss) are not accepted");
        why = NULL;
        assert_false(prov_valid_ssh_key("no-such-type AAAA", &why));
        assert_string_equal(why, "unknown key type, or an options prefix");

        /* Length: exactly PROV_SSH_KEY_MAX bytes (a long comment) is fine, one more is not. */
        char *big = malloc(PROV_SSH_KEY_MAX + 2);
        assert_non_null(big);
        size_t n = strlen(KEY_ED25519);
        memcpy(big, KEY_ED25519, n);
        memset(big + n, 'c', PROV_SSH_KEY_MAX - n);
        big[PROV_SSH_KEY_MAX] = '\0';
        assert_true(prov_valid_ssh_key(big, NULL));
        big[PROV_SSH_KEY_MAX] = 'c';
        big[PROV_SSH_KEY_MAX + 1] = '\0';
        why = NULL;
        assert_false(prov_valid_ssh_key(big, &why));
        assert_string_equal(why, "longer than 16384 bytes");
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_user_and_group_names),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_valid_text_matches_byte_loops),
                cmocka_unit_test(test_gecos),
                cmocka_unit_test(test_home),
                cmocka_unit_test(test_shell),
                cmocka_unit_test(test_login_name_from),
                cmocka_unit_test(test_system_names),
                cmocka_unit_test(test_ssh_key),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
