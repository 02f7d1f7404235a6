/* The native client of the timekeeper, inside every emulated process (compiled into the interposer
 * core). Inactive (everything real) unless $REVATI_TIMEKEEPER names a clock page. */
#ifndef REVATI_TIME_H
#define REVATI_TIME_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

bool rvtk_active(void);
/* libc's own definition of a function we interpose: the next one after us when we are preloaded,
 * else the first in the global scope (libc, loaded before us). */
void *rvtk_libc(const char *name);
int64_t rvtk_now(void);                       /* virtual time G, ns */
int64_t rvtk_real_ns(clockid_t clock);        /* the real clock, past our own interposition */
int64_t rvtk_clock_offset(clockid_t clock, bool *virtual_clock);   /* clock value = G + offset */

/* Around a real-time call outside the run (the predictor service): the thread counts as running. */
void rvtk_busy_begin(const char *what);
void rvtk_busy_end(void);

/* Blocks until G >= target: for waits only the clock ends (sleeps, host syncs on GPU work). */
void rvtk_wait_virtual(int64_t target, const char *what);

/* A timed wait on the application's own primitive: `once` waits for real at most real_timeout_ns
 * and returns 1 if that timed out, anything else if the wait ended for real. Returns once's result,
 * or 1 when the virtual deadline passed first. */
typedef int (*rvtk_once_fn)(void *arg, int64_t real_timeout_ns);
int rvtk_wait_app(int64_t target, const char *what, rvtk_once_fn once, void *arg);

/* A timed poll/select/epoll: as rvtk_wait_app, but `once` also watches wake_fd (an eventfd, -1 if
 * the thread has none) for readability, which the process's jump watcher writes when a jump reaches
 * the deadline. once returns 1 if its real wait timed out, 2 if it woke for wake_fd (which it
 * drains) or found nothing to report after all (the deadline is re-checked, and the wait goes on),
 * anything else if the wait ended for real. */
typedef int (*rvtk_fd_once_fn)(void *arg, int64_t real_timeout_ns, int wake_fd);
int rvtk_wait_fd(int64_t target, const char *what, rvtk_fd_once_fn once, void *arg);
/* The same for a wait that sleeps on a futex word (a semaphore's): the watcher FUTEX_WAKEs `word`
 * (with private_flag, the FUTEX_PRIVATE_FLAG bit its waits use, or 0) instead of writing an eventfd;
 * once gets -1. */
int rvtk_wait_futex(int64_t target, const char *what, rvtk_fd_once_fn once, void *arg, uint32_t *word, int private_flag);

/* Blocks, with no virtual deadline of its own, until *word reaches `until` (another participant
 * advances it and futex-wakes it). For the emulation's own bookkeeping (a collective's rendezvous,
 * where real ranks would not wait at all): the waiter's time is not caught up with the waker's. */
void rvtk_wait_for(uint32_t *word, uint32_t until, const char *what);

/* One real wait on an application condition variable (never repeated: a signal between two real
 * waits would be lost). A jump that reaches the target broadcasts `cond` to end it. */
#include <pthread.h>
int rvtk_wait_cond(int64_t target, const char *what, pthread_cond_t *cond, rvtk_once_fn once, void *arg);

#endif
