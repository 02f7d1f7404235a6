/* libc's clocks and timed waits, in virtual time. Inside an emulation run (clock page mapped) every
 * clock reads G plus the clock's offset and every finite timeout is a virtual deadline; outside one
 * each function is the real one. Waits with no timeout, or a zero timeout, pass through untouched:
 * they end for real, and a sleeping thread is visible to the service through /proc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
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
    if (rvtk_wait_app(deadline_abs(clock, abstime), "sem_timedwait", sem_once, &w) == 1) {
        errno = ETIMEDOUT;
        return -1;
    }
    errno = w.err;
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

/* ---------------- poll, select, epoll: ready events persist, so they may repeat ---------------- */
typedef struct {
    int kind;   /* 0 ppoll, 1 pselect, 2 epoll */
    struct pollfd *fds; nfds_t nfds;
    int nsel; fd_set *r, *w, *e; fd_set r0, w0, e0;
    int epfd; struct epoll_event *events; int maxevents;
    const sigset_t *sigmask;
    int result, err;
} io_wait;

static int io_once(void *arg, int64_t real_timeout_ns) {
    io_wait *w = arg;
    struct timespec t = ns_ts(real_timeout_ns);
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
        int ms = (int)((real_timeout_ns + 999999) / 1000000);
        w->result = real_epoll_pwait(w->epfd, w->events, w->maxevents, ms, w->sigmask);
    }
    w->err = errno;
    return w->result == 0 ? 1 : 0;
}

static int io_virtual(io_wait *w, int64_t timeout_ns, const char *what) {
    if (rvtk_wait_app(rvtk_now() + timeout_ns, what, io_once, w) == 1) {
        if (w->kind == 1) {   /* nothing ready: select reports empty sets */
            if (w->r) FD_ZERO(w->r);
            if (w->w) FD_ZERO(w->w);
            if (w->e) FD_ZERO(w->e);
        }
        return 0;
    }
    errno = w->err;
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
