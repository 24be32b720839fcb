/*
 * perm — says why "Permission denied": who the process runs as and which
 * file, or which directory on the way to it, keeps it out, with the owner,
 * group and mode that would let it in.
 *
 * A daemon that runs as its own user (systemd User=) and reads secrets
 * root installed meets EACCES on the first start after a wrong chmod; the
 * bare strerror() does not tell the engineer which uid was refused or which
 * of the path's directories is closed. The answer is worked out from stat()
 * and the classic owner/group/other bits only: ACLs and security modules
 * are not consulted, and when the bits do not explain the refusal only the
 * identity is given. Nothing here keeps state; knows nothing of floe.
 */
#ifndef FLOE_PERM_H
#define FLOE_PERM_H

#include <stddef.h>
#include <sys/types.h>

/* An identity to judge access for. groups (supplementary groups) is
 * borrowed; it may be NULL when ngroups is 0. */
struct perm_who {
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t ngroups;
};

/* Writes to buf (size n, always NUL-terminated; nothing when n is 0) why
 * `who` cannot read `path`, as a parenthesised note to append after
 * strerror(EACCES), e.g.
 *   " (running as uid 998 (floe), gid 998 (floe); the file is root:root 0600:
 *     make it group floe, mode 0640)"
 *   " (running as uid 998 (floe), gid 998 (floe); directory /etc/floe/secrets
 *     is root:root 0700: make it group floe, mode 0750)"
 * or " (running as uid 998 (floe), gid 998 (floe))" when the mode bits do
 * not explain it. Relative paths are taken from the working directory. */
void perm_explain_unreadable(const char *path, const struct perm_who *who, char *buf, size_t n);

/* The same for the calling process: its effective uid and gid and its
 * supplementary groups. */
void perm_explain_unreadable_self(const char *path, char *buf, size_t n);

#endif
