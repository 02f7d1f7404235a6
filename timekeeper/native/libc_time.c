/* libc's clocks and timed waits, in virtual time. Inside an emulation run (clock page mapped) every
 * clock reads G plus the clock's offset and every finite timeout is a virtual deadline; outside one
 * each function is the real one. Waits with no timeout, or a zero timeout, pass through untouched:
 * they end for real, and a sleeping thread is visible to the service through /proc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <alloca.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "revati_clock.h"
#include "revati_time.h"

#define EXPORT __attribute__((visibility("default")))
#define REAL(name) static __typeof__(name) *real_##name; if (!real_##name) real_##name = (__typeof__(name) *)rvtk_libc(#name)

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }
static struct timespec ns_ts(int64_t ns) { return (struct timespec){ns / 1000000000, ns % 1000000000}; }

/* ---------------- clocks ---------------- */
EXPORT int clock_gettime(clockid_t clock, struct timespec *tp) {
    if (rvtk_active()) {
        bool virt;
        int64_t off = rvtk_clock_offset(clock, &virt);
        if (virt) { *tp = ns_ts(rvtk_now() + off); return 0; }
    }
    REAL(clock_gettime);
    return real_clock_gettime(clock, tp);
}

EXPORT int gettimeofday(struct timeval *tv, void *tz) {
    if (rvtk_active()) {
        if (tv) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            tv->tv_sec = ts.tv_sec;
            tv->tv_usec = ts.tv_nsec / 1000;
        }
        if (tz) memset(tz, 0, sizeof(struct timezone));
        return 0;
    }
    REAL(gettimeofday);
    return real_gettimeofday(tv, tz);
}

EXPORT time_t time(time_t *t) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t) *t = ts.tv_sec;
    return ts.tv_sec;
}

/* The virtual deadline of an absolute time on `clock`, or -1 if the clock is not virtual. */
static int64_t deadline_abs(clockid_t clock, const struct timespec *abstime) {
    bool virt;
    int64_t off = rvtk_clock_offset(clock, &virt);
    return virt ? ts_ns(abstime) - off : -1;
}

/* ---------------- sleeps: only the clock ends them ---------------- */
EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    if (rvtk_active()) {
        bool virt;
        rvtk_clock_offset(clock, &virt);
        if (virt) {
            int64_t target = (flags & TIMER_ABSTIME) ? deadline_abs(clock, req) : rvtk_now() + ts_ns(req);
            rvtk_wait_virtual(target, "sleep");
            if (rem) *rem = (struct timespec){0, 0};
            return 0;
        }
    }
    REAL(clock_nanosleep);
    return real_clock_nanosleep(clock, flags, req, rem);
}

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem) {
    if (!rvtk_active()) { REAL(nanosleep); return real_nanosleep(req, rem); }
    if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000) { errno = EINVAL; return -1; }
    return clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
}

EXPORT int usleep(useconds_t us) {
    struct timespec ts = ns_ts((int64_t)us * 1000);
    return nanosleep(&ts, NULL);
}

EXPORT unsigned int sleep(unsigned int s) {
    struct timespec ts = {s, 0};
    nanosleep(&ts, NULL);
    return 0;
}

/* ---------------- condition variables ----------------
 * A condition wait is never repeated inside the wrapper (a signal that came between two real waits
 * would be lost): a real wake-up or real timeout returns to the caller, which re-checks its
 * predicate; the real timeout is the remaining virtual time at the current pace, and a jump wakes
 * the waiter through the process's jump watcher. */
typedef struct { pthread_cond_t *cond; pthread_mutex_t *mutex; clockid_t clock; int result; } cond_wait;

static int cond_once(void *arg, int64_t real_timeout_ns) {
    cond_wait *w = arg;
    REAL(pthread_cond_clockwait);
    struct timespec now, dl;
    REAL(clock_gettime);
    real_clock_gettime(w->clock, &now);
    dl = ns_ts(ts_ns(&now) + real_timeout_ns);
    w->result = real_pthread_cond_clockwait(w->cond, w->mutex, w->clock, &dl);
    return 0;   /* once only: the caller re-checks */
}

static int cond_virtual(pthread_cond_t *cond, pthread_mutex_t *mutex, clockid_t clock, const struct timespec *abstime) {
    int64_t target = deadline_abs(clock, abstime);
    cond_wait w = {cond, mutex, clock == CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, 0};
    int64_t begin = rvtk_now();
    if (begin >= target) return ETIMEDOUT;
    rvtk_wait_cond(target, "pthread_cond_timedwait", cond, cond_once, &w);
    /* a timeout that the pace of G made land a hair early still counts, so waits such as the GIL's
     * switch interval keep their period instead of being restarted */
    int64_t g = rvtk_now();
    if (g >= target - (target - begin) / 20) return ETIMEDOUT;
    return w.result == ETIMEDOUT ? 0 : w.result;
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mutex,
                                  const struct timespec *restrict abstime) {
    if (rvtk_active()) {
        clockid_t clock = (cond->__data.__wrefs & 2) ? CLOCK_MONOTONIC : CLOCK_REALTIME;   /* glibc's clock bit */
        return cond_virtual(cond, mutex, clock, abstime);
    }
    REAL(pthread_cond_timedwait);
    return real_pthread_cond_timedwait(cond, mutex, abstime);
}

EXPORT int pthread_cond_clockwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mutex, clockid_t clock,
                                  const struct timespec *restrict abstime) {
    bool virt = false;
    if (rvtk_active()) rvtk_clock_offset(clock, &virt);
    if (virt) return cond_virtual(cond, mutex, clock, abstime);
    REAL(pthread_cond_clockwait);
    return real_pthread_cond_clockwait(cond, mutex, clock, abstime);
}

/* ---------------- semaphores: a post between two real waits is kept, so they may repeat ---------------- */
typedef struct { sem_t *sem; int result; int err; } sem_wait_t;

/* glibc's semaphore (>= 2.21, 64-bit atomics: x86-64): the value in the low 32 bits of `data` (the
 * futex word sem_post wakes when the high 32 bits, the number of waiters, are not zero), and the
 * futex privacy flag. sem_own_once waits the way glibc's sem_clockwait does (register as a waiter,
 * take a token or sleep on the word, unregister on a timeout) on a word the jump watcher can wake:
 * glibc's own wait would go back to sleep after such a wake. */
typedef struct { uint64_t data; int private; int pad; } glibc_sem;
_Static_assert(sizeof(glibc_sem) <= sizeof(sem_t), "sem_t layout");
#define SEM_WAITER ((uint64_t)1 << 32)

static bool sem_is_glibc(sem_t *sem) {
    int f = ((glibc_sem *)sem)->private;
    return f == 0 || f == FUTEX_PRIVATE_FLAG;
}

/* glibc keeps `private` inverted (LLL_PRIVATE is 0, LLL_SHARED is FUTEX_PRIVATE_FLAG) and XORs it
 * into its futex ops: a process-private semaphore's sem_post wakes a FUTEX_PRIVATE_FLAG futex, which a
 * shared-futex wait on the same word never hears. */
static int sem_futex_flag(const glibc_sem *s) { return s->private ^ FUTEX_PRIVATE_FLAG; }

static int sem_own_once(void *arg, int64_t real_timeout_ns, int unused) {
    (void)unused;
    sem_wait_t *w = arg;
    glibc_sem *s = (glibc_sem *)w->sem;
    uint64_t d = __atomic_fetch_add(&s->data, SEM_WAITER, __ATOMIC_RELAXED);
    bool slept = false;
    for (;;) {
        if ((uint32_t)d == 0) {
            if (slept) {   /* woken and no token: a post someone else took, or the watcher */
                __atomic_fetch_sub(&s->data, SEM_WAITER, __ATOMIC_RELAXED);
                return 2;
            }
            struct timespec t = ns_ts(real_timeout_ns);
            long r = syscall(SYS_futex, (uint32_t *)&s->data, FUTEX_WAIT | sem_futex_flag(s), 0, &t, NULL, 0);
            int e = errno;
            if (r == -1 && (e == ETIMEDOUT || e == EINTR)) {
                __atomic_fetch_sub(&s->data, SEM_WAITER, __ATOMIC_RELAXED);
                if (e == ETIMEDOUT) return 1;
                w->result = -1;
                w->err = EINTR;
                return 0;
            }
            slept = r == 0;   /* EAGAIN: the value changed before we slept */
            d = __atomic_load_n(&s->data, __ATOMIC_RELAXED);
        } else if (__atomic_compare_exchange_n(&s->data, &d, d - 1 - SEM_WAITER, true, __ATOMIC_ACQUIRE,
                                               __ATOMIC_RELAXED)) {
            w->result = 0;
            return 0;
        }
    }
}

static int sem_once(void *arg, int64_t real_timeout_ns) {
    sem_wait_t *w = arg;
    REAL(sem_clockwait);
    REAL(clock_gettime);
    struct timespec now, dl;
    real_clock_gettime(CLOCK_MONOTONIC, &now);
    dl = ns_ts(ts_ns(&now) + real_timeout_ns);
    w->result = real_sem_clockwait(w->sem, CLOCK_MONOTONIC, &dl);
    w->err = errno;
    return w->result == -1 && w->err == ETIMEDOUT ? 1 : 0;
}

static int sem_virtual(sem_t *sem, clockid_t clock, const struct timespec *abstime) {
    sem_wait_t w = {sem, -1, ETIMEDOUT};
    int64_t target = deadline_abs(clock, abstime);
    if (sem_trywait(sem) == 0) return 0;
    int r = sem_is_glibc(sem)
        ? rvtk_wait_futex(target, "sem_timedwait", sem_own_once, &w, (uint32_t *)&((glibc_sem *)sem)->data,
                          sem_futex_flag((glibc_sem *)sem))
        : rvtk_wait_app(target, "sem_timedwait", sem_once, &w);
    if (r == 1) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (w.result < 0) errno = w.err;
    return w.result;
}

EXPORT int sem_timedwait(sem_t *restrict sem, const struct timespec *restrict abstime) {
    if (rvtk_active()) return sem_virtual(sem, CLOCK_REALTIME, abstime);
    REAL(sem_timedwait);
    return real_sem_timedwait(sem, abstime);
}

EXPORT int sem_clockwait(sem_t *restrict sem, clockid_t clock, const struct timespec *restrict abstime) {
    bool virt = false;
    if (rvtk_active()) rvtk_clock_offset(clock, &virt);
    if (virt) return sem_virtual(sem, clock, abstime);
    REAL(sem_clockwait);
    return real_sem_clockwait(sem, clock, abstime);
}

/* ---------------- poll, select, epoll: ready events persist, so they may repeat ----------------
 * Each real wait also watches the thread's wake eventfd (written by the jump watcher when a jump
 * reaches the deadline): one ppoll over the application's descriptors (for epoll: the epoll fd
 * itself, readable while it has events) and the eventfd; when an application descriptor is ready,
 * select and epoll then make the real call with a zero timeout, so their results are exactly the
 * real call's. A wait whose ppoll keeps finding descriptors ready that the real call does not report
 * (select's and poll's readiness differ at the edges, e.g. a hang-up of a descriptor only in the
 * write set) falls back to plain real calls with short timeouts. */
#define IO_PLAIN_SLICE_NS 2000000LL    /* the plain fallback's longest real timeout (no wake fd) */
#define IO_MAX_WATCHED 4096            /* more descriptors than this: plain real calls */

typedef struct {
    int kind;   /* 0 ppoll, 1 pselect, 2 epoll */
    struct pollfd *fds; nfds_t nfds;
    int nsel; fd_set *r, *w, *e; fd_set r0, w0, e0;
    int epfd; struct epoll_event *events; int maxevents;
    const sigset_t *sigmask;
    int result, err;
    int spurious;   /* ppoll said ready, the real call reported nothing: after a few, plain calls */
} io_wait;

/* The real call itself, with this timeout. */
static int io_real(io_wait *w, int64_t timeout_ns) {
    struct timespec t = ns_ts(timeout_ns);
    if (w->kind == 0) {
        REAL(ppoll);
        w->result = real_ppoll(w->fds, w->nfds, &t, w->sigmask);
    } else if (w->kind == 1) {
        if (w->r) *w->r = w->r0;
        if (w->w) *w->w = w->w0;
        if (w->e) *w->e = w->e0;
        REAL(pselect);
        w->result = real_pselect(w->nsel, w->r, w->w, w->e, &t, w->sigmask);
    } else {
        REAL(epoll_pwait);
        int ms = (int)((timeout_ns + 999999) / 1000000);
        w->result = real_epoll_pwait(w->epfd, w->events, w->maxevents, ms, w->sigmask);
    }
    w->err = errno;
    return w->result == 0 ? 1 : 0;
}

static void drain(int fd) {
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
}

static int io_once(void *arg, int64_t real_timeout_ns, int wake) {
    io_wait *w = arg;
    size_t n = w->kind == 0 ? w->nfds : w->kind == 1 ? (size_t)(w->nsel > 0 ? w->nsel : 0) : 1;
    if (wake < 0 || w->spurious >= 3 || n > IO_MAX_WATCHED || (w->kind == 2 && w->maxevents <= 0))
        return io_real(w, real_timeout_ns < IO_PLAIN_SLICE_NS ? real_timeout_ns : IO_PLAIN_SLICE_NS);
    struct pollfd *p = alloca((n + 1) * sizeof *p);
    nfds_t m = 0;
    if (w->kind == 0) {
        if (n) memcpy(p, w->fds, n * sizeof *p);
        m = n;
    } else if (w->kind == 1) {
        for (int fd = 0; fd < w->nsel && fd < FD_SETSIZE; fd++) {
            short ev = (w->r && FD_ISSET(fd, &w->r0) ? POLLIN : 0) | (w->w && FD_ISSET(fd, &w->w0) ? POLLOUT : 0)
                     | (w->e && FD_ISSET(fd, &w->e0) ? POLLPRI : 0);
            if (ev) p[m++] = (struct pollfd){fd, ev, 0};
        }
    } else {
        p[m++] = (struct pollfd){w->epfd, POLLIN, 0};
    }
    p[m] = (struct pollfd){wake, POLLIN, 0};
    struct timespec t = ns_ts(real_timeout_ns);
    REAL(ppoll);
    int r = real_ppoll(p, m + 1, &t, w->sigmask);
    if (r < 0) {   /* a signal (EINTR), or an error the real call has too */
        w->err = errno;
        w->result = -1;
        return 0;
    }
    if (r == 0) return 1;
    if (p[m].revents) {
        drain(wake);
        r--;
    }
    if (r == 0) return 2;   /* the watcher: the deadline may have come */
    if (w->kind == 0) {
        for (nfds_t i = 0; i < n; i++) w->fds[i].revents = p[i].revents;
        w->result = r;
        return 0;
    }
    if (io_real(w, 0) == 0) return 0;   /* what the real call reports (an error included) */
    w->spurious++;   /* consumed meanwhile by another thread, or a readiness only poll sees */
    return 2;
}

static int io_virtual(io_wait *w, int64_t timeout_ns, const char *what) {
    if (rvtk_wait_fd(rvtk_now() + timeout_ns, what, io_once, w) == 1) {
        if (w->kind == 1) {   /* nothing ready: select reports empty sets */
            if (w->r) FD_ZERO(w->r);
            if (w->w) FD_ZERO(w->w);
            if (w->e) FD_ZERO(w->e);
        }
        return 0;
    }
    if (w->result < 0) errno = w->err;
    return w->result;
}

EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
    if (rvtk_active() && timeout > 0) {
        io_wait w = {.kind = 0, .fds = fds, .nfds = nfds};
        return io_virtual(&w, (int64_t)timeout * 1000000, "poll");
    }
    REAL(poll);
    return real_poll(fds, nfds, timeout);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo, const sigset_t *sigmask) {
    if (rvtk_active() && tmo && ts_ns(tmo) > 0) {
        io_wait w = {.kind = 0, .fds = fds, .nfds = nfds, .sigmask = sigmask};
        return io_virtual(&w, ts_ns(tmo), "ppoll");
    }
    REAL(ppoll);
    return real_ppoll(fds, nfds, tmo, sigmask);
}

static int select_virtual(int n, fd_set *r, fd_set *wr, fd_set *e, int64_t timeout_ns, const sigset_t *mask, const char *what) {
    io_wait w = {.kind = 1, .nsel = n, .r = r, .w = wr, .e = e, .sigmask = mask};
    if (r) w.r0 = *r;
    if (wr) w.w0 = *wr;
    if (e) w.e0 = *e;
    return io_virtual(&w, timeout_ns, what);
}

EXPORT int select(int n, fd_set *restrict r, fd_set *restrict wr, fd_set *restrict e, struct timeval *restrict tv) {
    if (rvtk_active() && tv && (tv->tv_sec > 0 || tv->tv_usec > 0)) {
        int res = select_virtual(n, r, wr, e, (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000, NULL, "select");
        if (res == 0) tv->tv_sec = tv->tv_usec = 0;   /* Linux reports the time not slept */
        return res;
    }
    REAL(select);
    return real_select(n, r, wr, e, tv);
}

EXPORT int pselect(int n, fd_set *restrict r, fd_set *restrict wr, fd_set *restrict e, const struct timespec *restrict tmo,
                   const sigset_t *restrict mask) {
    if (rvtk_active() && tmo && ts_ns(tmo) > 0) return select_virtual(n, r, wr, e, ts_ns(tmo), mask, "pselect");
    REAL(pselect);
    return real_pselect(n, r, wr, e, tmo, mask);
}

EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    if (rvtk_active() && timeout > 0) {
        io_wait w = {.kind = 2, .epfd = epfd, .events = events, .maxevents = maxevents};
        return io_virtual(&w, (int64_t)timeout * 1000000, "epoll_wait");
    }
    REAL(epoll_wait);
    return real_epoll_wait(epfd, events, maxevents, timeout);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout, const sigset_t *mask) {
    if (rvtk_active() && timeout > 0) {
        io_wait w = {.kind = 2, .epfd = epfd, .events = events, .maxevents = maxevents, .sigmask = mask};
        return io_virtual(&w, (int64_t)timeout * 1000000, "epoll_pwait");
    }
    REAL(epoll_pwait);
    return real_epoll_pwait(epfd, events, maxevents, timeout, mask);
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents, const struct timespec *tmo, const sigset_t *mask) {
    if (rvtk_active() && tmo && ts_ns(tmo) > 0) {
        io_wait w = {.kind = 2, .epfd = epfd, .events = events, .maxevents = maxevents, .sigmask = mask};
        return io_virtual(&w, ts_ns(tmo), "epoll_pwait2");
    }
    REAL(epoll_pwait2);
    return real_epoll_pwait2(epfd, events, maxevents, tmo, mask);
}
