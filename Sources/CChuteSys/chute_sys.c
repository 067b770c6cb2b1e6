#define _GNU_SOURCE
#include "chute_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t chute_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t chute_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

enum { PARKER_EMPTY = 0, PARKER_NOTIFIED = 1, PARKER_PARKED = 2 };

void chute_parker_init(chute_parker *parker) { atomic_store(&parker->state, PARKER_EMPTY); }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

int chute_parker_park(chute_parker *parker, int64_t spin_ns, int64_t timeout_ns) {
    /* Fast path: a pending notification. */
    uint32_t expected = PARKER_NOTIFIED;
    if (atomic_compare_exchange_strong(&parker->state, &expected, PARKER_EMPTY)) return 1;
    if (spin_ns > 0) {
        int64_t until = chute_monotonic_ns() + spin_ns;
        unsigned spins = 0;
        for (;;) {
            if (atomic_load_explicit(&parker->state, memory_order_relaxed) == PARKER_NOTIFIED) {
                expected = PARKER_NOTIFIED;
                if (atomic_compare_exchange_strong(&parker->state, &expected, PARKER_EMPTY)) return 1;
            }
            cpu_relax();
            if ((++spins & 63) == 0 && chute_monotonic_ns() >= until) break;
        }
    }
    expected = PARKER_EMPTY;
    if (!atomic_compare_exchange_strong(&parker->state, &expected, PARKER_PARKED)) {
        /* Notified meanwhile. */
        atomic_store(&parker->state, PARKER_EMPTY);
        return 1;
    }
    int64_t deadline = timeout_ns >= 0 ? chute_monotonic_ns() + timeout_ns : -1;
    for (;;) {
        struct timespec rel, *relp = NULL;
        if (deadline >= 0) {
            int64_t left = deadline - chute_monotonic_ns();
            if (left <= 0) {
                /* Time is up: leave the parked state unless a notification raced in. */
                expected = PARKER_PARKED;
                if (atomic_compare_exchange_strong(&parker->state, &expected, PARKER_EMPTY)) return 0;
                atomic_store(&parker->state, PARKER_EMPTY);
                return 1;
            }
            rel.tv_sec = left / 1000000000LL;
            rel.tv_nsec = left % 1000000000LL;
            relp = &rel;
        }
        syscall(SYS_futex, &parker->state, FUTEX_WAIT_PRIVATE, PARKER_PARKED, relp, NULL, 0);
        expected = PARKER_NOTIFIED;
        if (atomic_compare_exchange_strong(&parker->state, &expected, PARKER_EMPTY)) return 1;
    }
}

void chute_parker_unpark(chute_parker *parker) {
    if (atomic_exchange(&parker->state, PARKER_NOTIFIED) == PARKER_PARKED) {
        syscall(SYS_futex, &parker->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

int chute_wifexited(int status) { return WIFEXITED(status); }
int chute_wexitstatus(int status) { return WEXITSTATUS(status); }
int chute_wifsignaled(int status) { return WIFSIGNALED(status); }
int chute_wtermsig(int status) { return WTERMSIG(status); }
int chute_wcoredump(int status) {
#ifdef WCOREDUMP
    return WCOREDUMP(status);
#else
    return 0;
#endif
}

pid_t chute_fork(void) { return fork(); }

int chute_sigchld_fd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

void chute_reset_signals(void) {
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
    sigset_t set;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
}

void chute_die_with_parent(void) { prctl(PR_SET_PDEATHSIG, SIGKILL); }

int chute_set_cloexec(int fd, int on) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    return fcntl(fd, F_SETFD, flags);
}

int chute_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}

ssize_t chute_send_with_fds(int sock, const void *data, size_t len, const int *fds, int nfds) {
    if (nfds < 0 || nfds > 8) { errno = EINVAL; return -1; }
    struct iovec iov = {(void *)data, len};
    union { char buf[CMSG_SPACE(8 * sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(cmsg), fds, (size_t)nfds * sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n;
}

ssize_t chute_recv_with_fds(int sock, void *buf, size_t cap, int *fds, int max_fds, int *nfds) {
    struct iovec iov = {buf, cap};
    union { char buf[CMSG_SPACE(8 * sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    *nfds = 0;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *received = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (*nfds < max_fds) fds[(*nfds)++] = received[i];
            else close(received[i]);
        }
    }
    return n;
}

int chute_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int chute_epoll_wait(int epfd, uint64_t *datas, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n;
    do { n = epoll_wait(epfd, evs, max, timeout_ms); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        datas[i] = evs[i].data.u64;
        events[i] = evs[i].events;
    }
    return n;
}

int64_t chute_peak_rss_bytes(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
    return (int64_t)usage.ru_maxrss * 1024;
}

int chute_reset_peak_rss(int clear_refs_fd) {
    int fd = clear_refs_fd >= 0 ? clear_refs_fd : open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = pwrite(fd, "5", 1, 0);
    if (clear_refs_fd < 0) close(fd);
    return n == 1 ? 0 : -1;
}

static int64_t statm_field(const char *path, int field) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    long long size = 0, resident = 0;
    if (sscanf(buf, "%lld %lld", &size, &resident) != 2) return -1;
    long long pages = field == 0 ? size : resident;
    return (int64_t)pages * sysconf(_SC_PAGESIZE);
}

int64_t chute_process_rss_bytes(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    return statm_field(path, 1);
}

int64_t chute_self_virtual_bytes(void) { return statm_field("/proc/self/statm", 0); }

#include <sys/eventfd.h>
int chute_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
int chute_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
int chute_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
void chute_stdout_line_buffered(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
void chute_drain_signalfd(int fd) {
    struct signalfd_siginfo info;
    while (read(fd, &info, sizeof info) > 0) {}
}

#include <spawn.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

int chute_spawn_close_from(void *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, lowfd);
}

int chute_close_from(int lowfd) {
    return (int)syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0);
}
