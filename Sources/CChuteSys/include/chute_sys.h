/* Small system helpers that Swift cannot express directly: macros (wait status, CMSG), variadic
 * syscalls (futex), packed structs (epoll_event) and fork. Linux only. */
#ifndef CHUTE_SYS_H
#define CHUTE_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- time ---- */
/* CLOCK_MONOTONIC in nanoseconds (vDSO, ~24 ns). */
int64_t chute_monotonic_ns(void);
/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
int64_t chute_wall_ms(void);

/* ---- parking a thread (futex) ----
 * One parker belongs to one thread that parks; any thread may unpark it. An unpark that comes
 * before the park is not lost: the next park returns at once. */
typedef struct { _Atomic uint32_t state; } chute_parker;
void chute_parker_init(chute_parker *parker);
/* Spins up to spin_ns, then sleeps until unparked or timeout_ns passes (timeout_ns < 0: no
 * timeout). Returns 1 when unparked, 0 on timeout. */
int chute_parker_park(chute_parker *parker, int64_t spin_ns, int64_t timeout_ns);
void chute_parker_unpark(chute_parker *parker);

/* ---- wait status ---- */
int chute_wifexited(int status);
int chute_wexitstatus(int status);
int chute_wifsignaled(int status);
int chute_wtermsig(int status);
int chute_wcoredump(int status);

/* ---- processes ---- */
pid_t chute_fork(void);
/* Blocks SIGCHLD and returns a non-blocking signalfd that reports it, or -1. */
int chute_sigchld_fd(void);
/* In a freshly forked child: unblock every signal and restore default dispositions. */
void chute_reset_signals(void);
/* Sends the calling process SIGKILL when its parent dies. */
void chute_die_with_parent(void);

/* ---- file descriptors ---- */
int chute_set_cloexec(int fd, int on);
int chute_set_nonblocking(int fd, int on);
/* Sends len bytes and up to 8 file descriptors in one message (SCM_RIGHTS). Returns bytes sent or
 * -1 with errno. */
ssize_t chute_send_with_fds(int sock, const void *data, size_t len, const int *fds, int nfds);
/* Receives up to cap bytes and up to max_fds descriptors. *nfds gets how many arrived. */
ssize_t chute_recv_with_fds(int sock, void *buf, size_t cap, int *fds, int max_fds, int *nfds);

/* ---- epoll (epoll_event is packed on x86_64; Swift cannot build it) ---- */
int chute_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Waits up to timeout_ms (-1: forever). Fills datas/events, returns the count or -1. */
int chute_epoll_wait(int epfd, uint64_t *datas, uint32_t *events, int max, int timeout_ms);

/* ---- memory ---- */
/* Peak resident set size of this process in bytes since the last reset (getrusage). */
int64_t chute_peak_rss_bytes(void);
/* Resets the peak resident set size (writes "5" to /proc/self/clear_refs). fd is an open
 * descriptor of that file, or -1 to open it each time. Returns 0 on success. */
int chute_reset_peak_rss(int clear_refs_fd);
/* Current resident set size of a process in bytes, from /proc/PID/statm; -1 when unknown. */
int64_t chute_process_rss_bytes(pid_t pid);
/* Virtual size of this process in bytes, from /proc/self/statm; -1 when unknown. */
int64_t chute_self_virtual_bytes(void);



/* ---- constants and calls the Glibc module does not export ---- */
#define CHUTE_EPOLLIN 0x001u
#define CHUTE_EPOLLONESHOT (1u << 30)
#define CHUTE_EPOLL_CTL_ADD 1
#define CHUTE_EPOLL_CTL_DEL 2
#define CHUTE_EPOLL_CTL_MOD 3
int chute_epoll_create(void);
int chute_eventfd(void);
/* pipe2(fds, O_CLOEXEC) */
int chute_pipe_cloexec(int fds[2]);

/* Makes stdout line-buffered (a handler's printf lines reach the host before a crash). */
void chute_stdout_line_buffered(void);
/* Reads and discards everything pending on a signalfd. */
void chute_drain_signalfd(int fd);
/* Descriptors a spawned process must not inherit: a host embedding Chute may have pipes and
 * sockets open without close-on-exec (Foundation's Process does), and a worker holding a copy
 * keeps them from ever reaching end of file. `actions` is a posix_spawn_file_actions_t. */
int chute_spawn_close_from(void *actions, int lowfd);
/* Closes every descriptor from `lowfd` up (close_range). */
int chute_close_from(int lowfd);

#endif
