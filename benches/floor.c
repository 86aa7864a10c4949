// floor: the kernel work of benches/compare.sh's bundle, and nothing else.
// One "lifecycle" = what every runtime must do for that config.json on this host:
//   parent: state dir + state file, the v1 cgroups (cpuset cpus/mems copied), clone with
//           pid/net/ipc/uts/mount namespaces (cgroup ns unshared after the join);
//   child:  join the cgroups ("0" to tasks), unshare cgroup ns, lo up, rootfs bind,
//           proc, /dev tmpfs, devpts, shm, mqueue, sysfs ro, /sys/fs/cgroup (tmpfs, a
//           cgroup mount per hierarchy, ro remount), 6 device nodes + 5 symlinks, pivot_root + detach,
//           masked paths (bind /dev/null over files, ro tmpfs over dirs), readonly paths
//           (bind + ro remount), hostname, exec /bin/true;
//   parent: wait, rmdir the cgroups, remove the state.
// No parsing, no plan, no handshake, no error reporting: a floor, not a runtime. It prints
// N lines of nanoseconds per lifecycle (after 10 warm-up), as libloop does. Run as root on a
// cgroup v1 or hybrid host (it joins every v1 hierarchy mounted under /sys/fs/cgroup, as
// runc does):
//   gcc -O2 -static -o /tmp/floor benches/floor.c
//   benches/make-bundle.sh /tmp/fb && /tmp/floor /tmp/fb/rootfs 300 | python3 benches/stats.py
// FLOOR_NO_NET=1: the same without the new network namespace and its loopback.
// Why it exists: issue 11's ratios are against crun's median; this says how low any runtime
// can go for this bundle on the machine at hand (benches/README.md, "The kernel's floor").
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The v1 hierarchies mounted under /sys/fs/cgroup: directory name and mount data.
#define MAXH 16
static char H[MAXH][64], HDATA[MAXH][128];
static int NH;
static const char *rootfs;
static int tasks[MAXH];

static void find_hierarchies(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024];
    while (f && NH < MAXH && fgets(line, sizeof line, f)) {
        char mp[512], fstype[64], src[64], opts[512];
        char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mp) != 1) continue;
        if (sscanf(sep + 3, "%63s %63s %511s", fstype, src, opts) != 3) continue;
        if (strcmp(fstype, "cgroup") || strncmp(mp, "/sys/fs/cgroup/", 15)) continue;
        if (strlen(mp + 15) >= sizeof H[NH]) continue;
        strcpy(H[NH], mp + 15);
        // the super options but rw/ro and release_agent: the controllers or name=
        char *data = HDATA[NH]; data[0] = 0;
        for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
            if (!strcmp(o, "rw") || !strcmp(o, "ro") || !strncmp(o, "release_agent=", 14)) continue;
            if (data[0]) strncat(data, ",", 127 - strlen(data));
            strncat(data, o, 127 - strlen(data));
        }
        NH++;
    }
    if (f) fclose(f);
}

static void die(const char *what) { perror(what); _exit(127); }
#define CK(x, what) do { if ((x) < 0) die(what); } while (0)

static void copyfile(const char *from, const char *to) {
    char buf[256]; int f = open(from, O_RDONLY); CK(f, from);
    int n = read(f, buf, sizeof buf); close(f);
    int t = open(to, O_WRONLY); CK(t, to); CK(write(t, buf, n), to); close(t);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long fl, const char *data) {
    mkdir(dst, 0755);
    CK(mount(src, dst, type, fl, data), dst);
}

static int child(void) {
    for (int i = 0; i < NH; i++) CK(write(tasks[i], "0", 1), "join");
    CK(unshare(CLONE_NEWCGROUP), "cgroupns");
    if (!getenv("FLOOR_NO_NET")) { int s = socket(AF_INET, SOCK_DGRAM, 0); struct ifreq r = {0};
    strcpy(r.ifr_name, "lo"); CK(ioctl(s, SIOCGIFFLAGS, &r), "lo");
    r.ifr_flags |= IFF_UP; CK(ioctl(s, SIOCSIFFLAGS, &r), "lo up"); close(s); }
    CK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "private");
    CK(mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL), "rootfs");
    CK(chdir(rootfs), "chdir");
    mnt("proc", "proc", "proc", 0, NULL);
    mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
    mnt("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
    mnt("sysfs", "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
    mnt("tmpfs", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755");
    char p[256];
    for (int i = 0; i < NH; i++) {
        snprintf(p, sizeof p, "sys/fs/cgroup/%.63s", H[i]);
        mnt("cgroup", p, "cgroup", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, HDATA[i]);
    }
    CK(mount(NULL, "sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL), "ro");
    struct { const char *n; int ma, mi; } dev[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "dev/%s", dev[i].n);
        CK(mknod(p, S_IFCHR | 0666, makedev(dev[i].ma, dev[i].mi)), p);
        chmod(p, 0666);
    }
    symlink("/proc/self/fd", "dev/fd"); symlink("/proc/self/fd/0", "dev/stdin");
    symlink("/proc/self/fd/1", "dev/stdout"); symlink("/proc/self/fd/2", "dev/stderr");
    symlink("pts/ptmx", "dev/ptmx");
    CK(syscall(SYS_pivot_root, ".", "."), "pivot_root");
    CK(umount2(".", MNT_DETACH), "detach");
    CK(chdir("/"), "chdir /");
    const char *masked[] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/sys/firmware", "/proc/scsi"};
    for (int i = 0; i < 10; i++) {
        struct stat st;
        if (stat(masked[i], &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL);
        else mount("/dev/null", masked[i], NULL, MS_BIND, NULL);
    }
    const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    for (int i = 0; i < 5; i++) {
        if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0) continue;
        mount(NULL, ro[i], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
    }
    sethostname("floor", 5);
    char *argv[] = {"/bin/true", NULL}, *envp[] = {"PATH=/bin", NULL};
    execve("/bin/true", argv, envp);
    die("exec");
    return 0;
}

static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: floor ROOTFS N\n"); return 2; }
    rootfs = argv[1]; int n = atoi(argv[2]);
    find_hierarchies();
    if (NH == 0) { fprintf(stderr, "floor: no cgroup v1 hierarchy under /sys/fs/cgroup\n"); return 2; }
    char p[256], state[4096]; memset(state, 'x', 3000);
    for (int it = 0; it < n + 10; it++) {
        long long t0 = now();
        snprintf(p, sizeof p, "/run/floor-%d-%d", getpid(), it); CK(mkdir(p, 0711), "state dir");
        char sp[300]; snprintf(sp, sizeof sp, "%s/state.json", p);
        int sf = open(sp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644); CK(sf, "state"); CK(write(sf, state, 3000), "state"); close(sf);
        for (int i = 0; i < NH; i++) {
            snprintf(p, sizeof p, "/sys/fs/cgroup/%s/floor-%d-%d", H[i], getpid(), it); CK(mkdir(p, 0755), p);
            if (!strcmp(H[i], "cpuset")) {
                char q[300];
                snprintf(q, sizeof q, "%s/cpuset.cpus", p); copyfile("/sys/fs/cgroup/cpuset/cpuset.cpus", q);
                snprintf(q, sizeof q, "%s/cpuset.mems", p); copyfile("/sys/fs/cgroup/cpuset/cpuset.mems", q);
            }
            char q[300]; snprintf(q, sizeof q, "%s/tasks", p);
            tasks[i] = open(q, O_WRONLY | O_CLOEXEC); CK(tasks[i], q);
        }
        pid_t pid = syscall(SYS_clone, (getenv("FLOOR_NO_NET") ? 0 : CLONE_NEWNET) | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) _exit(child());
        CK(pid, "clone");
        for (int i = 0; i < NH; i++) close(tasks[i]);
        int st; CK(waitpid(pid, &st, 0), "wait");
        int failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        for (int i = 0; i < NH; i++) {
            snprintf(p, sizeof p, "/sys/fs/cgroup/%.63s/floor-%d-%d", H[i], getpid(), it); CK(rmdir(p), p);
        }
        CK(unlink(sp), "unlink state");
        snprintf(p, sizeof p, "/run/floor-%d-%d", getpid(), it); CK(rmdir(p), "rmdir state");
        if (failed) { fprintf(stderr, "floor: the child failed (wait status %#x)\n", st); return 1; }
        long long t1 = now();
        if (it >= 10) printf("%lld\n", t1 - t0);
    }
    return 0;
}
