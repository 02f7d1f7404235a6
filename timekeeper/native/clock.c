/* Virtual time for one emulated process: registration in the clock page, G, and the two kinds of
 * waits (see revati_clock.h for the protocol). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati_clock.h"
#include "revati_time.h"

#define SLICE_MIN_NS 50000LL        /* real-time slices of a wait: short enough that a jump is */
#define SLICE_MAX_NS 2000000LL      /* noticed quickly, long enough not to spin */
#define VIRTUAL_SLICE_MAX_NS 100000000LL
/* poll/select/epoll waits that also watch their wake eventfd: a jump that reaches the deadline
 * wakes them, so real timeouts only serve G moving with CPU work (no jump) and may be long. A wait
 * that ends late for real still reads its own deadline as its time. */
#define FD_SLICE_MIN_NS 1000000LL
#define FD_SLICE_MAX_NS 100000000LL
/* semaphore waits that the watcher futex-wakes: a wake that comes just before the thread sleeps is
 * lost (a futex wake is an edge, the semaphore's word is the application's), so a shorter cap */
#define FUTEX_SLICE_MAX_NS 10000000LL

static rvtk_page *g_page;
static int g_proc = -1;
static pid_t g_pid;
static __thread int t_slot = -1;
static pthread_key_t g_slot_key;

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
static clock_gettime_fn g_real_clock_gettime;

int64_t rvtk_real_ns(clockid_t clock) {
    struct timespec ts;
    g_real_clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool rvtk_active(void) { return g_page != NULL; }

void *rvtk_libc(const char *name) {
    void *p = dlsym(RTLD_NEXT, name);
    return p ? p : dlsym(RTLD_DEFAULT, name);
}

static int64_t cpu_of(pid_t pid) {
    clockid_t id = pid == g_pid ? CLOCK_PROCESS_CPUTIME_ID : (clockid_t)(((~(unsigned)pid) << 3) | 2);
    struct timespec ts;
    if (g_real_clock_gettime(id, &ts)) return -1;   /* gone: the service will notice */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void register_process(void);

/* G, the run's clock: the latest process time, from a consistent snapshot of the anchors. */
static int64_t global_now(void) {
    rvtk_page *p = g_page;
    int32_t pids[RVTK_MAX_PROCS];
    int64_t anchors[RVTK_MAX_PROCS], offsets[RVTK_MAX_PROCS], seen[RVTK_MAX_PROCS];
    int n;
    int64_t base;
    double scale;
    for (;;) {
        uint32_t s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) continue;
        base = p->anchor_virtual_ns;
        scale = p->cpu_scale;
        n = 0;
        uint32_t np = p->nprocs;
        for (uint32_t i = 0; i < np && i < RVTK_MAX_PROCS; i++)
            if (p->procs[i].state == RVTK_PROC_LIVE) {
                pids[n] = p->procs[i].pid;
                offsets[n] = p->procs[i].offset_ns;
                seen[n] = __atomic_load_n(&p->procs[i].seen_ns, __ATOMIC_ACQUIRE);
                anchors[n++] = p->procs[i].cpu_anchor_ns;
            }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) == s1) break;
    }
    int64_t most = base;
    for (int i = 0; i < n; i++) {
        if (seen[i] > most) most = seen[i];
        int64_t cpu = cpu_of(pids[i]);
        if (cpu < 0) continue;
        int64_t l = base + offsets[i] + (int64_t)(scale * (double)(cpu - anchors[i]));
        if (l > most) most = l;
    }
    return most;
}

/* L_p, this process's own time (no catching up). */
static int64_t own_time(void) {
    rvtk_page *p = g_page;
    if (g_proc < 0) return global_now();
    rvtk_proc *me = &p->procs[g_proc];
    int64_t base, offset, anchor;
    double scale;
    for (;;) {
        uint32_t s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) continue;
        base = p->anchor_virtual_ns;
        scale = p->cpu_scale;
        offset = me->offset_ns;
        anchor = me->cpu_anchor_ns;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) == s1) break;
    }
    return base + offset + (int64_t)(scale * (double)(cpu_of(g_pid) - anchor));
}

static void lock_page(void);
static void unlock_page(void);

/* Raises this process's time to at least t (never lowers it). */
static int64_t catch_up(int64_t t) {
    int64_t own = own_time();
    if (t <= own || g_proc < 0) return own;
    lock_page();
    own = own_time();   /* the anchors may have moved meanwhile */
    if (t > own) {
        __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
        g_page->procs[g_proc].offset_ns += t - own;
        __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
        own = t;
    }
    unlock_page();
    return own;
}

static __thread long t_nvcsw = -1;   /* voluntary context switches at the thread's last read */

/* The thread's blocking since its last read was no wake-up by another participant (its own timed
 * wait, the service, the emulation's bookkeeping): its next read does not catch up with G. */
static void not_woken(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    t_nvcsw = ru.ru_nvcsw;
}

/* What a thread of this process reads: its process's time, caught up with the run's clock if the
 * thread blocked since its last read (whoever woke it may be ahead: a message must not be seen
 * before it was sent). */
/* What a thread reads is at least what any thread of its process read before (it may have told this
 * one), and becomes the process's floor: another thread's CPU time that the kernel has not accounted
 * yet (it does at its ticks) must not make a later read, or a peer's catch-up, see an earlier time. */
static int64_t observe(int64_t t) {
    if (g_proc < 0) return t;
    int64_t *seen = &g_page->procs[g_proc].seen_ns;
    int64_t cur = __atomic_load_n(seen, __ATOMIC_ACQUIRE);
    while (t > cur && !__atomic_compare_exchange_n(seen, &cur, t, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {}
    return t > cur ? t : cur;
}

int64_t rvtk_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    if (ru.ru_nvcsw != t_nvcsw) {
        t_nvcsw = ru.ru_nvcsw;
        return observe(catch_up(global_now()));
    }
    return observe(own_time());
}

int64_t rvtk_clock_offset(clockid_t clock, bool *virtual_clock) {
    *virtual_clock = true;
    switch (clock) {
    case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE: case CLOCK_REALTIME_ALARM: case CLOCK_TAI:
        return g_page->realtime_offset_ns;
    case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_MONOTONIC_COARSE: case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
        return g_page->monotonic_offset_ns;
    default:
        *virtual_clock = false;   /* CPU-time clocks stay real */
        return 0;
    }
}

/* ---------------- registration ---------------- */
static void lock_page(void) {
    if (pthread_mutex_lock(&g_page->lock) == EOWNERDEAD) {
        /* a writer died holding the lock, maybe mid-update: close its seqlock window */
        uint32_t seq = __atomic_load_n(&g_page->seq, __ATOMIC_ACQUIRE);
        if (seq & 1) __atomic_store_n(&g_page->seq, seq + 1, __ATOMIC_RELEASE);
        pthread_mutex_consistent(&g_page->lock);
    }
}
static void unlock_page(void) { pthread_mutex_unlock(&g_page->lock); }

/* Under the lock: G becomes the anchor and every live process's CPU time its new origin, so a
 * change of the process set never moves G back. */
static void reanchor_locked(void) {
    int64_t g = global_now();
    __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
    g_page->anchor_virtual_ns = g;
    for (uint32_t i = 0; i < g_page->nprocs; i++)
        if (g_page->procs[i].state == RVTK_PROC_LIVE) {
            int64_t c = cpu_of(g_page->procs[i].pid);
            if (c >= 0) g_page->procs[i].cpu_anchor_ns = c;
            g_page->procs[i].offset_ns = 0;
        }
    __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
}

static void read_name(char *out, size_t size) {
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, out, size - 1) : 0;
    if (fd >= 0) close(fd);
    if (n < 0) n = 0;
    for (ssize_t i = 0; i < n; i++)
        if (!out[i]) out[i] = ' ';
    out[n] = 0;
}

/* pid no longer runs: no such process, or a zombie waiting for its parent. */
static bool gone(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return true;
    buf[n] = 0;
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static void register_process(void) {
    g_pid = getpid();
    pid_t parent = getppid();
    lock_page();
    int slot = -1, parent_slot = -1;
    for (uint32_t i = 0; i < g_page->nprocs; i++) {
        rvtk_proc *pr = &g_page->procs[i];
        if (pr->state == RVTK_PROC_LIVE && pr->pid == g_pid) slot = (int)i;   /* exec of a registered process */
        if (pr->state == RVTK_PROC_LIVE && pr->pid == parent) parent_slot = (int)i;
    }
    for (int i = 0; slot < 0 && i < RVTK_MAX_PROCS; i++)
        if (g_page->procs[i].state == RVTK_PROC_FREE) slot = i;
    /* then the slot of a process that exited and is gone (the service saw its exit while it ran) */
    for (int i = 0; slot < 0 && i < RVTK_MAX_PROCS; i++)
        if (g_page->procs[i].state == RVTK_PROC_EXITED && gone(g_page->procs[i].pid)) slot = i;
    if (slot >= 0) {
        rvtk_proc *pr = &g_page->procs[slot];
        int64_t g = global_now();   /* a new process starts at the run's current time */
        __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
        pr->pid = g_pid;
        pr->parent_slot = parent_slot;
        pr->exit_code = 0;
        pr->cpu_anchor_ns = cpu_of(g_pid);   /* contributes nothing yet: G is unchanged */
        pr->offset_ns = g - g_page->anchor_virtual_ns;
        __atomic_store_n(&pr->seen_ns, g, __ATOMIC_RELEASE);
        read_name(pr->name, sizeof pr->name);
        pr->state = RVTK_PROC_LIVE;
        if ((uint32_t)slot >= g_page->nprocs) g_page->nprocs = (uint32_t)slot + 1;
        __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
    }
    unlock_page();
    if (slot < 0) {
        fprintf(stderr, "[revati %d] fatal: more than %d processes in one emulation run\n", g_pid, RVTK_MAX_PROCS);
        abort();
    }
    g_proc = slot;
}

static void leave(int code) {
    if (!g_page || g_proc < 0 || getpid() != g_pid) return;
    lock_page();
    reanchor_locked();
    __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
    g_page->procs[g_proc].exit_code = code;
    g_page->procs[g_proc].state = RVTK_PROC_EXITED;
    __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
    /* every thread slot of this process: exit() runs no thread-key destructors */
    uint32_t nt = __atomic_load_n(&g_page->nthreads, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < nt && i < RVTK_MAX_THREADS; i++) {
        rvtk_thread *t = &g_page->threads[i];
        if (t->tid && t->proc == g_proc) {
            t->in_wait = RVTK_RUNNING;
            __atomic_store_n(&t->tid, 0, __ATOMIC_RELEASE);
        }
    }
    t_slot = -1;
    unlock_page();
    __atomic_fetch_add(&g_page->notify, 1, __ATOMIC_ACQ_REL);
    syscall(SYS_futex, &g_page->notify, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    g_proc = -1;
}

static void on_exit_handler(int code, void *arg) { (void)arg; leave(code); }

/* os._exit and friends skip exit handlers; a process that vanishes while LIVE counts as crashed. */
void rv_trace_at_exit(void);   /* the interposer core's trace: _exit skips atexit handlers */

__attribute__((visibility("default"))) void _exit(int code) {
    rv_trace_at_exit();
    leave(code);
    syscall(SYS_exit_group, code);
    __builtin_unreachable();
}
__attribute__((visibility("default"))) void _Exit(int code) { _exit(code); }

/* A participant that stops another (a pool shutting down its workers) marks it as exited first,
 * so that its death is an orderly end, not a crash. */
static bool fatal_signal(int sig) {
    return sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

static void mark_stopped(pid_t pid, pid_t pgrp, int sig) {
    if (!g_page || !fatal_signal(sig)) return;
    lock_page();
    for (uint32_t i = 0; i < g_page->nprocs; i++) {
        rvtk_proc *pr = &g_page->procs[i];
        if (pr->state != RVTK_PROC_LIVE || pr->pid == getpid()) continue;
        if (pr->pid == pid || (pgrp > 0 && getpgid(pr->pid) == pgrp)) {
            __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
            pr->exit_code = 128 + sig;
            pr->state = RVTK_PROC_EXITED;
            __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
        }
    }
    unlock_page();
}

static void unmark_stopped(pid_t pid) {
    lock_page();
    for (uint32_t i = 0; i < g_page->nprocs; i++) {
        rvtk_proc *pr = &g_page->procs[i];
        if (pr->pid == pid && pr->state == RVTK_PROC_EXITED && pr->exit_code > 128 && !gone(pid)) {
            __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
            pr->state = RVTK_PROC_LIVE;
            __atomic_fetch_add(&g_page->seq, 1, __ATOMIC_ACQ_REL);
        }
    }
    unlock_page();
}

__attribute__((visibility("default"))) int kill(pid_t pid, int sig) {
    static int (*real_kill)(pid_t, int);
    if (!real_kill) real_kill = (int (*)(pid_t, int))rvtk_libc("kill");
    if (pid > 0) mark_stopped(pid, 0, sig);
    else if (pid < -1) mark_stopped(0, -pid, sig);
    int r = real_kill(pid, sig);
    if (r && pid > 0) {   /* no such process, or not ours to stop */
        int e = errno;
        unmark_stopped(pid);
        errno = e;
    }
    return r;
}

__attribute__((visibility("default"))) int killpg(pid_t pgrp, int sig) {
    static int (*real_killpg)(pid_t, int);
    if (!real_killpg) real_killpg = (int (*)(pid_t, int))rvtk_libc("killpg");
    mark_stopped(0, pgrp, sig);
    return real_killpg(pgrp, sig);
}

/* exec: the process leaves the run; if the new program loads the interposer it joins again under
 * the same pid, otherwise it is no participant (a compiler, a shell). A failed exec rejoins. */
typedef int (*execve_fn)(const char *, char *const[], char *const[]);

static int exec_via(const char *name, const char *path, char *const argv[], char *const envp[]) {
    execve_fn real = (execve_fn)rvtk_libc(name);
    bool joined = g_page && g_proc >= 0 && getpid() == g_pid;
    if (joined) leave(0);
    int r = real(path, argv, envp);
    int e = errno;
    if (joined) register_process();
    errno = e;
    return r;
}

extern char **environ;
__attribute__((visibility("default"))) int execve(const char *path, char *const argv[], char *const envp[]) {
    return exec_via("execve", path, argv, envp);
}
__attribute__((visibility("default"))) int execv(const char *path, char *const argv[]) {
    return exec_via("execve", path, argv, environ);
}
__attribute__((visibility("default"))) int execvpe(const char *file, char *const argv[], char *const envp[]) {
    return exec_via("execvpe", file, argv, envp);
}
__attribute__((visibility("default"))) int execvp(const char *file, char *const argv[]) {
    return exec_via("execvpe", file, argv, environ);
}

static void close_wake_fd(void);

static void release_slot(void *unused) {
    (void)unused;
    close_wake_fd();
    if (t_slot >= 0 && g_page) {
        g_page->threads[t_slot].in_wait = RVTK_RUNNING;
        __atomic_store_n(&g_page->threads[t_slot].tid, 0, __ATOMIC_RELEASE);
    }
    t_slot = -1;
}

static rvtk_thread *thread_slot(void) {
    if (t_slot >= 0) return &g_page->threads[t_slot];
    int32_t tid = (int32_t)syscall(SYS_gettid);
    for (int i = 0; i < RVTK_MAX_THREADS; i++) {
        int32_t free_tid = 0;
        if (__atomic_compare_exchange_n(&g_page->threads[i].tid, &free_tid, tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            rvtk_thread *t = &g_page->threads[i];
            t->proc = g_proc;
            t->in_wait = RVTK_RUNNING;
            t_slot = i;
            uint32_t n = __atomic_load_n(&g_page->nthreads, __ATOMIC_ACQUIRE);
            while ((uint32_t)i >= n && !__atomic_compare_exchange_n(&g_page->nthreads, &n, (uint32_t)i + 1, 0,
                                                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {}
            pthread_setspecific(g_slot_key, t);
            return t;
        }
    }
    fprintf(stderr, "[revati %d] fatal: more than %d waiting threads in one emulation run\n", getpid(), RVTK_MAX_THREADS);
    abort();
}

/* A forked child is a participant at once: its CPU time counts from the start. */
static void forget_wake_fds(void);

static void after_fork_child(void) {
    t_slot = -1;   /* the forking thread's slot belongs to the parent */
    t_nvcsw = -1;
    forget_wake_fds();
    if (g_page) register_process();
}

__attribute__((constructor(101))) static void rvtk_init(void) {
    g_real_clock_gettime = (clock_gettime_fn)rvtk_libc("clock_gettime");
    const char *path = getenv("REVATI_TIMEKEEPER");
    if (!path || !*path) return;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return;   /* the run is over (or not ours): run on real time */
    void *m = mmap(NULL, sizeof(rvtk_page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return;
    rvtk_page *p = m;
    if (p->magic != RVTK_MAGIC || p->version != RVTK_VERSION) {
        fprintf(stderr, "[revati %d] %s is not a clock page of this version; running on real time\n", getpid(), path);
        munmap(m, sizeof(rvtk_page));
        return;
    }
    g_page = p;
    pthread_key_create(&g_slot_key, release_slot);
    register_process();
    on_exit(on_exit_handler, NULL);
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* ---------------- waits ---------------- */
static void begin_wait(rvtk_thread *t, int64_t target, const char *what, uint32_t kind) {
    __atomic_fetch_add(&t->waits, 1, __ATOMIC_ACQ_REL);   /* a new wait, not a self-wake of the last one */
    t->target = target;
    snprintf(t->what, sizeof t->what, "%s", what);
    __atomic_store_n(&t->in_wait, kind, __ATOMIC_RELEASE);
    __atomic_fetch_add(&g_page->notify, 1, __ATOMIC_ACQ_REL);
    syscall(SYS_futex, &g_page->notify, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int64_t slice_between(int64_t remaining, int64_t floor, int64_t cap) {
    double scale = g_page->cpu_scale > 0 ? g_page->cpu_scale : 1.0;
    int64_t s = (int64_t)((double)remaining / scale);
    return s < floor ? floor : s > cap ? cap : s;
}
static int64_t slice(int64_t remaining, int64_t cap) { return slice_between(remaining, SLICE_MIN_NS, cap); }

/* A wait that only the clock ended: this process's time becomes the target, and the thread's own
 * sleeping does not count as having been woken by someone. */
static void settle(int64_t target) {
    catch_up(target);
    not_woken();
}

void rvtk_wait_virtual(int64_t target, const char *what) {
    rvtk_thread *t = thread_slot();
    begin_wait(t, target, what, RVTK_WAIT_VIRTUAL);
    for (;;) {
        uint32_t gen = __atomic_load_n(&g_page->generation, __ATOMIC_ACQUIRE);
        int64_t g = global_now();
        if (g >= target || g_page->failed) break;
        int64_t s = slice(target - g, VIRTUAL_SLICE_MAX_NS);
        struct timespec ts = {s / 1000000000, s % 1000000000};
        syscall(SYS_futex, &g_page->generation, FUTEX_WAIT, gen, &ts, NULL, 0);
    }
    __atomic_store_n(&t->in_wait, RVTK_RUNNING, __ATOMIC_RELEASE);
    settle(target);
}

void rvtk_busy_begin(const char *what) {
    if (!g_page) return;
    rvtk_thread *t = thread_slot();
    t->target = RVTK_NO_TARGET;
    snprintf(t->what, sizeof t->what, "%s", what);
    __atomic_store_n(&t->in_wait, RVTK_BUSY, __ATOMIC_RELEASE);
}

void rvtk_busy_end(void) {
    if (!g_page || t_slot < 0) return;
    __atomic_store_n(&g_page->threads[t_slot].in_wait, RVTK_RUNNING, __ATOMIC_RELEASE);
    not_woken();   /* waiting for the service */
}

void rvtk_wait_for(uint32_t *word, uint32_t until, const char *what) {
    rvtk_thread *t = thread_slot();
    begin_wait(t, RVTK_NO_TARGET, what, RVTK_WAIT_VIRTUAL);
    for (;;) {
        uint32_t v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        if (v >= until || g_page->failed) break;
        struct timespec ts = {0, 100000000};   /* re-check now and then: the run may have failed */
        syscall(SYS_futex, word, FUTEX_WAIT, v, &ts, NULL, 0);
    }
    __atomic_store_n(&t->in_wait, RVTK_RUNNING, __ATOMIC_RELEASE);
    not_woken();   /* bookkeeping, not a message: the waiter's own time goes on */
}

/* ---------------- condition waits and the jump watcher ---------------- */
static pthread_cond_t *g_conds[RVTK_MAX_THREADS];   /* per thread slot: the condvar it waits on */
/* Per thread slot of this process: its thread's wake eventfd (-1: none), and whether the thread
 * is in a wait that watches it. The fds are the threads' own; g_wake_lock keeps a thread's exit
 * from closing its fd while the watcher is about to write to it. */
static int g_wake_fds[RVTK_MAX_THREADS] = {[0 ... RVTK_MAX_THREADS - 1] = -1};
static int g_wake_armed[RVTK_MAX_THREADS];
static uint32_t *g_wake_words[RVTK_MAX_THREADS];   /* or a futex word to wake (a semaphore's) */
static int g_wake_private[RVTK_MAX_THREADS];        /* its FUTEX_PRIVATE_FLAG, or 0 */
static pthread_mutex_t g_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int t_wake_fd = -1;
static pid_t g_watcher_pid;
static pthread_mutex_t g_watcher_lock = PTHREAD_MUTEX_INITIALIZER;

/* After each jump (or the run's failure), ends the condition waits and fd waits of this process
 * whose deadline G has reached. */
static void *jump_watcher(void *unused) {
    (void)unused;
    for (;;) {
        uint32_t gen = __atomic_load_n(&g_page->generation, __ATOMIC_ACQUIRE);
        syscall(SYS_futex, &g_page->generation, FUTEX_WAIT, gen, NULL, NULL, 0);
        int64_t g = global_now();
        bool failed = g_page->failed;
        uint32_t n = __atomic_load_n(&g_page->nthreads, __ATOMIC_ACQUIRE);
        pthread_mutex_lock(&g_wake_lock);
        for (uint32_t i = 0; i < n && i < RVTK_MAX_THREADS; i++) {
            pthread_cond_t *c = __atomic_load_n(&g_conds[i], __ATOMIC_ACQUIRE);
            rvtk_thread *t = &g_page->threads[i];
            if (t->proc != g_proc || __atomic_load_n(&t->in_wait, __ATOMIC_ACQUIRE) != RVTK_WAIT_APP) continue;
            if (!(t->target <= g || failed)) continue;
            if (c) pthread_cond_broadcast(c);
            uint32_t *word = __atomic_load_n(&g_wake_words[i], __ATOMIC_ACQUIRE);
            if (word) {   /* every waiter on it wakes; the others find no token and sleep again */
                syscall(SYS_futex, word, FUTEX_WAKE | g_wake_private[i], INT_MAX, NULL, NULL, 0);
            } else if (__atomic_load_n(&g_wake_armed[i], __ATOMIC_ACQUIRE) && g_wake_fds[i] >= 0) {
                uint64_t one = 1;
                ssize_t w = write(g_wake_fds[i], &one, sizeof one);
                (void)w;   /* EAGAIN: the counter is full, the thread wakes anyway */
            }
        }
        pthread_mutex_unlock(&g_wake_lock);
    }
    return NULL;
}

/* This thread's wake eventfd, made on first use; -1 if none can be made (the wait then falls back
 * to short real timeouts). */
static int wake_fd(void) {
    if (t_wake_fd >= 0) return t_wake_fd;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return -1;
    pthread_mutex_lock(&g_wake_lock);
    g_wake_fds[t_slot] = fd;
    pthread_mutex_unlock(&g_wake_lock);
    t_wake_fd = fd;
    return fd;
}

static void close_wake_fd(void) {
    if (t_wake_fd < 0) return;
    pthread_mutex_lock(&g_wake_lock);
    if (t_slot >= 0) {
        g_wake_fds[t_slot] = -1;
        g_wake_armed[t_slot] = 0;
    }
    close(t_wake_fd);
    t_wake_fd = -1;
    pthread_mutex_unlock(&g_wake_lock);
}

/* In a forked child: the parent's threads' fds are copies nobody here owns. The lock may have
 * been held by another thread at fork: it is re-initialised, not taken. */
static void forget_wake_fds(void) {
    pthread_mutex_init(&g_wake_lock, NULL);
    for (int i = 0; i < RVTK_MAX_THREADS; i++) {
        if (g_wake_fds[i] >= 0) close(g_wake_fds[i]);
        g_wake_fds[i] = -1;
        g_wake_armed[i] = 0;
        g_wake_words[i] = NULL;
    }
    t_wake_fd = -1;
}

static void ensure_watcher(void) {
    if (__atomic_load_n(&g_watcher_pid, __ATOMIC_ACQUIRE) == getpid()) return;
    pthread_mutex_lock(&g_watcher_lock);
    if (g_watcher_pid != getpid()) {
        pthread_t th;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals belong to the application's threads */
        pthread_create(&th, NULL, jump_watcher, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_detach(th);
        __atomic_store_n(&g_watcher_pid, getpid(), __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_watcher_lock);
}

int rvtk_wait_cond(int64_t target, const char *what, pthread_cond_t *cond, rvtk_once_fn once, void *arg) {
    rvtk_thread *t = thread_slot();
    ensure_watcher();
    __atomic_store_n(&g_conds[t_slot], cond, __ATOMIC_RELEASE);
    begin_wait(t, target, what, RVTK_WAIT_APP);
    int r = once(arg, slice(target - global_now(), INT64_MAX));
    __atomic_store_n(&g_conds[t_slot], NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&t->in_wait, RVTK_RUNNING, __ATOMIC_RELEASE);
    if (global_now() >= target) settle(target);   /* the deadline passed: not a wake-up by someone */
    return r;
}

int rvtk_wait_app(int64_t target, const char *what, rvtk_once_fn once, void *arg) {
    rvtk_thread *t = thread_slot();
    begin_wait(t, target, what, RVTK_WAIT_APP);
    int r = 1;
    for (;;) {
        int64_t g = global_now();
        if (g >= target || g_page->failed) { r = 1; break; }
        r = once(arg, slice(target - g, SLICE_MAX_NS));
        if (r != 1) break;   /* ended for real */
        /* timed out: our own re-check, nothing woke us; counted before we sleep again, so that the
         * service can tell this wake-up in /proc from one by someone else */
        __atomic_fetch_add(&t->self_wakes, 1, __ATOMIC_ACQ_REL);
    }
    __atomic_store_n(&t->in_wait, RVTK_RUNNING, __ATOMIC_RELEASE);
    if (r == 1) settle(target);   /* timed out; a real wake-up leaves the catch-up to the next read */
    return r;
}

int rvtk_wait_futex(int64_t target, const char *what, rvtk_fd_once_fn once, void *arg, uint32_t *word, int private_flag) {
    rvtk_thread *t = thread_slot();
    int fd = -1;
    int64_t cap = FD_SLICE_MAX_NS;
    if (word) {
        ensure_watcher();
        g_wake_private[t_slot] = private_flag;
        __atomic_store_n(&g_wake_words[t_slot], word, __ATOMIC_RELEASE);
        cap = FUTEX_SLICE_MAX_NS;
    } else if ((fd = wake_fd()) >= 0) {
        ensure_watcher();
        __atomic_store_n(&g_wake_armed[t_slot], 1, __ATOMIC_RELEASE);
    }
    bool woken = word || fd >= 0;
    begin_wait(t, target, what, RVTK_WAIT_APP);
    /* armed before G is read: a jump after that read finds the fd armed and writes it */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    int r = 1;
    for (;;) {
        int64_t g = global_now();
        if (g >= target || g_page->failed) { r = 1; break; }
        int64_t s = woken ? slice_between(target - g, FD_SLICE_MIN_NS, cap) : slice(target - g, SLICE_MAX_NS);
        r = once(arg, s, fd);
        if (r == 1) __atomic_fetch_add(&t->self_wakes, 1, __ATOMIC_ACQ_REL);   /* as in rvtk_wait_app */
        else if (r != 2) break;   /* ended for real; 2: woken by the watcher (or nothing to report): re-check */
    }
    if (fd >= 0) __atomic_store_n(&g_wake_armed[t_slot], 0, __ATOMIC_RELEASE);
    if (word) {   /* under the lock: the semaphore may be freed once we return */
        pthread_mutex_lock(&g_wake_lock);
        __atomic_store_n(&g_wake_words[t_slot], NULL, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&g_wake_lock);
    }
    __atomic_store_n(&t->in_wait, RVTK_RUNNING, __ATOMIC_RELEASE);
    if (r == 1) settle(target);
    return r;
}

int rvtk_wait_fd(int64_t target, const char *what, rvtk_fd_once_fn once, void *arg) {
    return rvtk_wait_futex(target, what, once, arg, NULL, 0);
}
