# The guest is what the tests assume: systemd as PID 1, cgroup v2 only.
. "$GUEST/lib.sh"
[ "$(cat /proc/1/comm)" = systemd ]
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
refute grep -q ' - cgroup cgroup' /proc/self/mountinfo
cat /sys/fs/cgroup/cgroup.controllers
