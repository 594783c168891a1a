/* A test app that notifies systemd itself: after a pause it says it is
 * about to, then sends READY=1 with a status to $NOTIFY_SOCKET, along
 * with a MAINPID= that the relay must not pass on, and waits. Built
 * static by scripts/vm/test.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(void) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "notify: no NOTIFY_SOCKET\n");
        return 1;
    }
    sleep(3);
    printf("sending READY from %s\n", path);
    fflush(stdout);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    const char msg[] = "MAINPID=1\nSTATUS=app ready\nREADY=1\n";
    if (s < 0 || sendto(s, msg, sizeof msg - 1, 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("notify: sendto");
        return 1;
    }
    sleep(600);
    return 0;
}
