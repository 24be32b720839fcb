/*
 * perm — see perm.h. Walks the path's directories with stat() and applies
 * the owner/group/other rule to each, the way the kernel does before ACLs.
 */
#include "lib/perm.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "floe" for a uid with a name, "64123" for one without; true if named. */
static bool user_name(uid_t uid, char *out, size_t n)
{
    struct passwd pw, *found = NULL;
    char buf[1024];
    bool named = getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found;
    if (named)
        snprintf(out, n, "%s", found->pw_name);
    else
        snprintf(out, n, "%lu", (unsigned long)uid);
    return named;
}

static bool group_name(gid_t gid, char *out, size_t n)
{
    struct group gr, *found = NULL;
    char buf[1024];
    bool named = getgrgid_r(gid, &gr, buf, sizeof buf, &found) == 0 && found;
    if (named)
        snprintf(out, n, "%s", found->gr_name);
    else
        snprintf(out, n, "%lu", (unsigned long)gid);
    return named;
}

static bool in_group(const struct perm_who *who, gid_t gid)
{
    if (who->gid == gid)
        return true;
    for (size_t i = 0; i < who->ngroups; i++)
        if (who->groups[i] == gid)
            return true;
    return false;
}

/* Whether the mode bits give `who` the access whose owner bit is
 * owner_bit (S_IRUSR to read, S_IXUSR to enter a directory). Only the
 * first class that matches counts: an owner without the bit is refused
 * even if the group has it. Root needs no bits for either. */
static bool bits_allow(const struct stat *st, const struct perm_who *who, mode_t owner_bit)
{
    if (who->uid == 0)
        return true;
    if (st->st_uid == who->uid)
        return (st->st_mode & owner_bit) != 0;
    if (in_group(who, st->st_gid))
        return (st->st_mode & (owner_bit >> 3)) != 0;
    return (st->st_mode & (owner_bit >> 6)) != 0;
}

/* The first directory on path's way that `who` may not enter, copied to
 * dir; false when every directory lets it through or one cannot be
 * looked at. */
static bool closed_directory(const char *path, const struct perm_who *who, char *dir, size_t n,
                             struct stat *st)
{
    size_t len = strlen(path);
    if (len >= n)
        return false;
    if (path[0] != '/') {
        if (stat(".", st) != 0)
            return false;
        if (!bits_allow(st, who, S_IXUSR)) {
            snprintf(dir, n, ".");
            return true;
        }
    }
    for (size_t i = 0; i < len; i++) {
        if (path[i] != '/')
            continue;
        size_t dlen = i == 0 ? 1 : i; /* the leading '/' is the root itself */
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
        if (stat(dir, st) != 0)
            return false;
        if (S_ISDIR(st->st_mode) && !bits_allow(st, who, S_IXUSR))
            return true;
    }
    return false;
}

/* " (IDENT; WHAT is OWNER:GROUP MODE: FIX)", where FIX names the mode that
 * lets group `group` in: the service's own group, not everyone. */
static void explain(char *buf, size_t n, const char *ident, const char *what, const struct stat *st,
                    const struct perm_who *who, const char *group, const char *wanted_mode,
                    const char *owner_refused)
{
    char owner[64], owner_group[64], fix[128];
    user_name(st->st_uid, owner, sizeof owner);
    group_name(st->st_gid, owner_group, sizeof owner_group);
    if (st->st_uid == who->uid)
        snprintf(fix, sizeof fix, "its owner %s", owner_refused);
    else
        snprintf(fix, sizeof fix, "make it group %s, mode %s", group, wanted_mode);
    snprintf(buf, n, " (%s; %s is %s:%s %04o: %s)", ident, what, owner, owner_group,
             (unsigned)(st->st_mode & 07777), fix);
}

void perm_explain_unreadable(const char *path, const struct perm_who *who, char *buf, size_t n)
{
    if (n == 0)
        return;
    char user[64], group[64], ident[200], dir[PATH_MAX], what[PATH_MAX + 16];
    bool user_named = user_name(who->uid, user, sizeof user);
    bool group_named = group_name(who->gid, group, sizeof group);
    snprintf(ident, sizeof ident, "running as uid %lu%s%s%s, gid %lu%s%s%s",
             (unsigned long)who->uid, user_named ? " (" : "", user_named ? user : "",
             user_named ? ")" : "", (unsigned long)who->gid, group_named ? " (" : "",
             group_named ? group : "", group_named ? ")" : "");

    struct stat st;
    if (closed_directory(path, who, dir, sizeof dir, &st)) {
        snprintf(what, sizeof what, "directory %s", dir);
        explain(buf, n, ident, what, &st, who, group, "0750", "cannot enter it");
    } else if (stat(path, &st) == 0 && !bits_allow(&st, who, S_IRUSR)) {
        explain(buf, n, ident, "the file", &st, who, group, "0640", "cannot read it");
    } else {
        snprintf(buf, n, " (%s)", ident);
    }
}

void perm_explain_unreadable_self(const char *path, char *buf, size_t n)
{
    /* Sized by the kernel's answer: NGROUPS_MAX (65536) would not fit on a
     * thread's stack. Without the list the note may blame a directory a
     * supplementary group opens, which beats no note. */
    int ngroups = getgroups(0, NULL);
    gid_t *groups = ngroups > 0 ? calloc((size_t)ngroups, sizeof *groups) : NULL;
    if (groups)
        ngroups = getgroups(ngroups, groups);
    struct perm_who who = {
        .uid = geteuid(),
        .gid = getegid(),
        .groups = groups,
        .ngroups = groups && ngroups > 0 ? (size_t)ngroups : 0,
    };
    perm_explain_unreadable(path, &who, buf, n);
    free(groups);
}
