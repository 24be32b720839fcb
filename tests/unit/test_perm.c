/*
 * test_perm — the note after "Permission denied": who was refused, and
 * which file or directory (with owner, group and mode) keeps it out.
 *
 * The identity judged is made up (uid 64123, a gid of the test's choosing)
 * and only stat() is consulted, so the cases hold whether the tests run as
 * root or as a developer: the files are the test's own, the refused uid is
 * not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/perm.h"
#include "lib/util.h"

/* A uid and gid that are not the test's own, whoever runs it. */
#define OTHER_UID (geteuid() == 64123 ? 64124 : 64123)
#define OTHER_GID (getegid() == 64123 ? 64124 : 64123)

struct tree {
    char dir[64];     /* a fresh directory, 0755 */
    char secrets[96]; /* dir/secrets, 0750 */
    char token[128];  /* dir/secrets/noc.token */
    char owner[128];  /* "name:group" of the test's own files, as perm prints them */
    char ident[128];  /* " (running as uid 64123, gid 64123" */
};

/* "name:group" of the test's own files, as perm prints them: names when
 * the system has them, numbers otherwise. */
static void name_of_self(char *out, size_t n)
{
    struct passwd *pw = getpwuid(geteuid());
    struct group *gr = getgrgid(getegid());
    char u[32], g[32];
    snprintf(u, sizeof u, "%lu", (unsigned long)geteuid());
    snprintf(g, sizeof g, "%lu", (unsigned long)getegid());
    snprintf(out, n, "%s:%s", pw ? pw->pw_name : u, gr ? gr->gr_name : g);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/floe-perm.XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    chmod(t->dir, 0755);
    snprintf(t->secrets, sizeof t->secrets, "%s/secrets", t->dir);
    snprintf(t->token, sizeof t->token, "%s/noc.token", t->secrets);
    if (mkdir(t->secrets, 0750) != 0)
        return -1;
    FILE *f = fopen(t->token, "w");
    if (!f)
        return -1;
    fputs("token-0123456789\n", f);
    fclose(f);
    name_of_self(t->owner, sizeof t->owner);
    snprintf(t->ident, sizeof t->ident, " (running as uid %d, gid %d", OTHER_UID, OTHER_GID);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    unlink(t->token);
    rmdir(t->secrets);
    rmdir(t->dir);
    free(t);
    return 0;
}

#define STRANGER (&(struct perm_who){.uid = OTHER_UID, .gid = OTHER_GID})

static void file_without_group_read_names_its_owner_mode_and_the_fix(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0755);
    chmod(t->token, 0600);
    char buf[512], want[512];
    perm_explain_unreadable(t->token, STRANGER, buf, sizeof buf);
    snprintf(want, sizeof want, "%s; the file is %s 0600: make it group %d, mode 0640)", t->ident,
             t->owner, OTHER_GID);
    assert_string_equal(buf, want);
}

static void closed_directory_is_named_before_the_file(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0700);
    chmod(t->token, 0600);
    char buf[512], want[512];
    perm_explain_unreadable(t->token, STRANGER, buf, sizeof buf);
    snprintf(want, sizeof want, "%s; directory %s is %s 0700: make it group %d, mode 0750)",
             t->ident, t->secrets, t->owner, OTHER_GID);
    assert_string_equal(buf, want);
}

static void group_read_is_enough_for_a_member(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0750);
    chmod(t->token, 0640);
    /* Not the owner, but in the files' group (here: the test's own gid). */
    struct perm_who member = {.uid = OTHER_UID, .gid = getegid()};
    char buf[512], want[512];
    perm_explain_unreadable(t->token, &member, buf, sizeof buf);
    /* The bits allow it, so only the identity is given. */
    snprintf(want, sizeof want, " (running as uid %d, gid ", OTHER_UID);
    assert_memory_equal(buf, want, strlen(want));
    assert_null(strstr(buf, "; "));
}

static void a_supplementary_group_counts_as_membership(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0750);
    chmod(t->token, 0640);
    gid_t groups[] = {OTHER_GID + 1, getegid()};
    struct perm_who member = {.uid = OTHER_UID, .gid = OTHER_GID, .groups = groups, .ngroups = 2};
    char buf[512], want[512];
    perm_explain_unreadable(t->token, &member, buf, sizeof buf);
    snprintf(want, sizeof want, "%s)", t->ident);
    assert_string_equal(buf, want);
}

static void group_class_decides_even_when_others_may_read(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0755);
    chmod(t->token, 0604); /* others may read, the group may not: a member is refused */
    struct perm_who member = {.uid = OTHER_UID, .gid = getegid()};
    char buf[512];
    perm_explain_unreadable(t->token, &member, buf, sizeof buf);
    assert_non_null(strstr(buf, " 0604: make it group "));
}

static void owner_without_read_bit_is_told_so(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0755);
    chmod(t->token, 0200);
    struct perm_who owner = {.uid = geteuid(), .gid = getegid()};
    if (owner.uid == 0) {
        /* Root reads regardless of the bits: nothing to blame. */
        char buf[512];
        perm_explain_unreadable(t->token, &owner, buf, sizeof buf);
        assert_null(strstr(buf, "; "));
        owner.uid = OTHER_UID;
        if (chown(t->token, OTHER_UID, (gid_t)-1) != 0)
            fail_msg("chown as root failed");
    }
    char buf[512];
    perm_explain_unreadable(t->token, &owner, buf, sizeof buf);
    assert_non_null(strstr(buf, "; the file is "));
    assert_non_null(strstr(buf, " 0200: its owner cannot read it)"));
}

static void root_is_never_blamed_on_the_bits(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0700);
    chmod(t->token, 0000);
    struct perm_who root = {.uid = 0, .gid = 0};
    char buf[512];
    perm_explain_unreadable(t->token, &root, buf, sizeof buf);
    assert_memory_equal(buf, " (running as uid 0", strlen(" (running as uid 0"));
    assert_null(strstr(buf, "; "));
}

static void missing_file_gives_only_the_identity(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0755);
    char path[160], buf[512], want[512];
    snprintf(path, sizeof path, "%s/absent.token", t->secrets);
    perm_explain_unreadable(path, STRANGER, buf, sizeof buf);
    snprintf(want, sizeof want, "%s)", t->ident);
    assert_string_equal(buf, want);
}

static void relative_path_starts_at_the_working_directory(void **state)
{
    struct tree *t = *state;
    chmod(t->secrets, 0700);
    chmod(t->token, 0640);
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(t->dir), 0);
    char buf[512], want[512];
    perm_explain_unreadable("secrets/noc.token", STRANGER, buf, sizeof buf);
    assert_int_equal(chdir(cwd), 0);
    snprintf(want, sizeof want, "%s; directory secrets is %s 0700: make it group %d, mode 0750)",
             t->ident, t->owner, OTHER_GID);
    assert_string_equal(buf, want);
}

static void short_buffer_is_terminated(void **state)
{
    struct tree *t = *state;
    chmod(t->token, 0600);
    char buf[16];
    memset(buf, 'x', sizeof buf);
    perm_explain_unreadable(t->token, STRANGER, buf, sizeof buf);
    assert_int_equal(strlen(buf), sizeof buf - 1);
    perm_explain_unreadable(t->token, STRANGER, buf, 0); /* writes nothing */
}

/* util_read_file's message as the process `who` would get it: as root,
 * from a child that has become OTHER_UID; otherwise as ourselves. */
static void read_as(const char *path, char *err, size_t errlen)
{
    if (geteuid() != 0) {
        char *text = util_read_file(path, NULL, err, errlen);
        assert_null(text);
        return;
    }
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char msg[768] = "";
        if (setgroups(0, NULL) != 0 || setresgid(OTHER_GID, OTHER_GID, OTHER_GID) != 0 ||
            setresuid(OTHER_UID, OTHER_UID, OTHER_UID) != 0)
            snprintf(msg, sizeof msg, "could not become uid %d", OTHER_UID);
        else if (util_read_file(path, NULL, msg, sizeof msg))
            snprintf(msg, sizeof msg, "read it");
        ssize_t w = write(fds[1], msg, strlen(msg) + 1);
        _exit(w > 0 ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], err, errlen - 1);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(got > 0);
    err[got] = '\0';
}

static void read_file_error_carries_the_note(void **state)
{
    /* util_read_file is what reads configs, secrets and TLS files. */
    struct tree *t = *state;
    chmod(t->secrets, 0755);
    chmod(t->token, geteuid() == 0 ? 0600 : 0000);
    char err[768], want[768];
    read_as(t->token, err, sizeof err);
    if (geteuid() == 0)
        snprintf(want, sizeof want,
                 "%s: Permission denied%s; the file is %s 0600: make it group %d, mode 0640)",
                 t->token, t->ident, t->owner, OTHER_GID);
    else
        snprintf(want, sizeof want, "%s: Permission denied (running as uid %lu", t->token,
                 (unsigned long)geteuid());
    if (geteuid() == 0)
        assert_string_equal(err, want);
    else {
        assert_memory_equal(err, want, strlen(want));
        assert_non_null(strstr(err, " 0000: its owner cannot read it)"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(file_without_group_read_names_its_owner_mode_and_the_fix,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(closed_directory_is_named_before_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(group_read_is_enough_for_a_member, setup, teardown),
        cmocka_unit_test_setup_teardown(a_supplementary_group_counts_as_membership, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(group_class_decides_even_when_others_may_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(owner_without_read_bit_is_told_so, setup, teardown),
        cmocka_unit_test_setup_teardown(root_is_never_blamed_on_the_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_file_gives_only_the_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(relative_path_starts_at_the_working_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(short_buffer_is_terminated, setup, teardown),
        cmocka_unit_test_setup_teardown(read_file_error_carries_the_note, setup, teardown),
    };
    return cmocka_run_group_tests_name("perm", tests, NULL, NULL);
}
