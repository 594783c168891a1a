/* A socket-activated test app: checks the variables systemd's protocol
 * sets (LISTEN_PID is this process, LISTEN_FDS is 1), accepts one
 * connection on descriptor 3 and answers it. Built static by
 * scripts/vm/test.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds || atoi(pid) != getpid() || strcmp(fds, "1") != 0) {
        fprintf(stderr, "accept: LISTEN_PID=%s LISTEN_FDS=%s (pid %d)\n",
                pid ? pid : "", fds ? fds : "", getpid());
        return 1;
    }
    int conn = accept(3, NULL, NULL);
    if (conn < 0) {
        perror("accept: descriptor 3");
        return 1;
    }
    const char answer[] = "activated\n";
    if (write(conn, answer, sizeof answer - 1) < 0) {
        perror("accept: write");
        return 1;
    }
    close(conn);
    printf("answered one connection\n");
    return 0;
}
