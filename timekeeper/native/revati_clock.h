/* The clock page: the shared memory one emulation run's processes read virtual time from.
 *
 * Created by the timekeeper service (timekeeper/service.py mirrors this layout in timekeeper/page.py;
 * change both together and bump RVTK_VERSION). Path: $REVATI_TIMEKEEPER (a file in /dev/shm).
 *
 * Each process p has its own virtual time, moving with its own CPU progress (not with wall time, so
 * sharing cores with other work leaves it unchanged):
 *     L_p = anchor_virtual_ns + procs[p].offset_ns + cpu_scale * (cpu_p(now) - procs[p].cpu_anchor_ns)
 * where cpu_p is the process's CPU time (CLOCK_PROCESS_CPUTIME of its pid). The run's clock is
 *     G = max over live processes of L_p.
 * A process reads L_p. When one of its threads has blocked since it last read the clock (it may have
 * been woken by another participant: a message, a signal, a lock), it first catches up to G by
 * raising its own offset_ns, so nothing is observed before it was sent; a virtual wait that ends at
 * its target raises L_p to the target. Readers take the anchors under the seqlock `seq` (odd while
 * a writer updates) and need no message.
 *
 * Waiting: a thread that waits in virtual time claims a thread slot, sets `target` (its virtual
 * deadline; RVTK_NO_TARGET when it only waits for another participant, e.g. an NCCL rendezvous),
 * then `in_wait`, bumps `notify` (futex-woken for the service), and sleeps until G >= target:
 *   RVTK_WAIT_VIRTUAL (2): a wait only the clock ends (sleeps, host syncs on GPU work). The thread
 *       sleeps on the `generation` futex; it is blocked whatever its kernel state (it may wake to
 *       re-check G).
 *   RVTK_BUSY (3): a real-time call outside the run that costs no virtual time (asking the
 *       predictor service for a duration): the thread counts as running whatever its kernel state.
 *   RVTK_WAIT_APP (1): a timed wait on the application's own primitive (condition variable,
 *       semaphore, poll/select/epoll) that another thread or process may end for real. The thread
 *       waits on that primitive with real timeouts, re-checking G in between; it counts as blocked
 *       only while the kernel has it asleep (a real wake-up makes it runnable at once). A real
 *       sub-wait that timed out and is repeated (the thread's own re-check of G, nothing else woke
 *       it) bumps `self_wakes` before the thread sleeps again, so the service can tell these
 *       self-wakes from a wake-up by someone else: `waits` unchanged, asleep at both scans, and as
 *       many more timeslices in /proc as more self_wakes. poll/select/epoll waits also watch a
 *       per-thread eventfd that the process's jump watcher writes when a jump reaches their
 *       deadline, so their real timeouts can be long (no wake-up per slice of real time).
 *
 * Jumps: the service jumps when every thread of every live process is blocked: in a VIRTUAL wait,
 * or asleep in the kernel (state S, unchanged run time and timeslices over two /proc scans, or for
 * an APP wait timeslices that moved only by its self-wakes; a woken thread is runnable at once, so
 * a message or signal in flight always shows). It sets
 * anchor_virtual_ns = min target (never below the current G), re-anchors every process's CPU time,
 * zeroes every offset, bumps `generation` and futex-wakes it.
 *
 * Writers (the service's jump; a process registering or leaving, which re-anchors so that G never
 * goes back) hold `lock` (a process-shared, robust mutex; whoever inherits it from a dead writer
 * first makes an odd `seq` even).
 *
 * Processes: a process registers when it loads the interposer (a forked child on its first use of
 * the clock: it may only be about to exec). It marks itself EXITED with its code in exit()/_exit(),
 * and frees its thread slots. A participant that stops another with a fatal signal marks it EXITED
 * with 128 + signal first (an orderly end, e.g. a pool's workers); a process marked EXITED may still
 * be running for a moment. A process that vanishes while LIVE crashed or was killed from outside.
 * Slots of EXITED processes that are gone are reused.
 *
 * Companion files: <page path>.<suffix> (e.g. ".coll", the collective rendezvous table) belong to
 * the run; the service removes them with the page.
 */
#ifndef REVATI_CLOCK_H
#define REVATI_CLOCK_H

#include <pthread.h>
#include <stdint.h>

#define RVTK_MAGIC 0x4b545652u   /* "RVTK" */
#define RVTK_VERSION 4u
#define RVTK_MAX_PROCS 64
#define RVTK_MAX_THREADS 1024
#define RVTK_NO_TARGET INT64_MAX

enum { RVTK_PROC_FREE = 0, RVTK_PROC_LIVE = 1, RVTK_PROC_EXITED = 2 };
enum { RVTK_RUNNING = 0, RVTK_WAIT_APP = 1, RVTK_WAIT_VIRTUAL = 2, RVTK_BUSY = 3 };

typedef struct rvtk_proc {
    int32_t pid;
    int32_t state;          /* RVTK_PROC_* */
    int32_t exit_code;      /* valid when EXITED: the process sets it in exit()/_exit(); a process
                               that vanishes while LIVE was killed or crashed */
    int32_t parent_slot;    /* slot of the participant that started it, -1 for the first */
    int64_t cpu_anchor_ns;  /* its CPU time at the last anchor */
    int64_t offset_ns;      /* how far it caught up with G since the last anchor */
    int64_t seen_ns;        /* the latest time a thread of it read: a floor under L_p and G (the
                               kernel accounts another running thread's CPU time only at ticks) */
    char name[56];          /* command line, shortened: for error messages */
} rvtk_proc;                /* 96 bytes */

typedef struct rvtk_thread {
    int32_t tid;            /* 0: slot free */
    int32_t proc;           /* slot of its process */
    uint32_t in_wait;       /* RVTK_RUNNING, RVTK_WAIT_APP or RVTK_WAIT_VIRTUAL */
    uint32_t self_wakes;    /* APP waits: real sub-waits that timed out and were repeated (see above) */
    int64_t target;         /* virtual deadline of the current wait, or RVTK_NO_TARGET */
    uint32_t waits;         /* bumped as each wait begins */
    uint32_t pad;
    char what[48];          /* what it waits for, e.g. "clock_nanosleep", "cudaStreamSynchronize" */
} rvtk_thread;              /* 80 bytes */

typedef struct rvtk_page {
    uint32_t magic;
    uint32_t version;
    uint32_t seq;                 /* seqlock over the anchor fields */
    uint32_t generation;          /* futex: bumped at every jump */
    uint32_t notify;              /* futex: bumped when a thread starts a virtual wait */
    uint32_t failed;              /* 1: the run failed; every wait returns and the process exits */
    int64_t anchor_virtual_ns;
    double cpu_scale;             /* virtual ns per ns of participant CPU time */
    int64_t realtime_offset_ns;   /* CLOCK_REALTIME = G + realtime_offset_ns */
    int64_t monotonic_offset_ns;  /* CLOCK_MONOTONIC (and BOOTTIME, raw, coarse) = G + this */
    uint32_t nprocs;              /* highest used proc slot + 1 */
    uint32_t nthreads;            /* highest used thread slot + 1 */
    char fail_reason[512];
    pthread_mutex_t lock;         /* 40 bytes on x86-64 glibc */
    rvtk_proc procs[RVTK_MAX_PROCS];
    rvtk_thread threads[RVTK_MAX_THREADS];
} rvtk_page;

#endif
