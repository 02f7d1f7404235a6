/* A simulated timekeeper participant for tests/test_timekeeper_service.py: speaks the clock page
 * protocol of timekeeper/native/revati_clock.h directly (no interposer), so the service is tested
 * on its own.
 *
 *   participant wait TARGET|none     one VIRTUAL wait until G >= TARGET (none: no deadline)
 *   participant burn SECONDS         burn CPU for SECONDS of wall time, then sleep in read(0) until EOF
 *   participant block                sleep in read(0) until EOF (a kernel wait, no thread slot)
 *   participant exit CODE            leave with CODE
 *   participant die-locked           die by SIGKILL holding the lock, mid-update (seq odd)
 *   participant stop PID TARGET|none stop participant PID as the interposer core's kill() does (mark
 *                                    it EXITED with 128 + SIGTERM, then signal it), then wait
 *   participant child-exits CODE TARGET|none
 *                                    fork a participant that leaves with CODE, reap it, then wait
 *
 * Prints `WOKE anchor=.. g=.. generation=.. wall=..` when a wait ends, `BLOCKED wall=..` when the
 * burn ends (wall: real CLOCK_MONOTONIC ns); exits 3 if the run failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "revati_clock.h"

static rvtk_page *page;
static int my_slot = -1;

static int64_t ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static int64_t cpu_of(pid_t pid) {
    struct timespec ts;
    if (clock_gettime((clockid_t)(((~(unsigned)pid) << 3) | 2), &ts)) return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_g(void) {
    int32_t pids[RVTK_MAX_PROCS];
    int64_t anchors[RVTK_MAX_PROCS], base;
    double scale;
    int n;
    for (;;) {
        uint32_t s = __atomic_load_n(&page->seq, __ATOMIC_ACQUIRE);
        if (s & 1) continue;
        base = page->anchor_virtual_ns;
        scale = page->cpu_scale;
        n = 0;
        for (uint32_t i = 0; i < page->nprocs; i++)
            if (page->procs[i].state == RVTK_PROC_LIVE) {
                pids[n] = page->procs[i].pid;
                anchors[n++] = page->procs[i].cpu_anchor_ns;
            }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&page->seq, __ATOMIC_RELAXED) == s) break;
    }
    int64_t most = 0;
    for (int i = 0; i < n; i++) {
        int64_t d = cpu_of(pids[i]) - anchors[i];
        if (d > most) most = d;
    }
    return base + (int64_t)(scale * (double)most);
}

static void lock(void) {
    if (pthread_mutex_lock(&page->lock) == EOWNERDEAD) pthread_mutex_consistent(&page->lock);
}

static void bump_notify(void) {
    __atomic_fetch_add(&page->notify, 1, __ATOMIC_ACQ_REL);
    syscall(SYS_futex, &page->notify, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void join(const char *name) {
    page = NULL;
    int fd = open(getenv("REVATI_TIMEKEEPER"), O_RDWR);
    if (fd < 0) { perror("open page"); exit(2); }
    page = mmap(NULL, sizeof *page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (page == MAP_FAILED || page->magic != RVTK_MAGIC || page->version != RVTK_VERSION) exit(2);
    pid_t pid = getpid(), parent = getppid();
    lock();
    int parent_slot = -1;
    for (uint32_t i = 0; i < page->nprocs; i++)
        if (page->procs[i].state == RVTK_PROC_LIVE && page->procs[i].pid == parent) parent_slot = (int)i;
    for (int i = 0; i < RVTK_MAX_PROCS && my_slot < 0; i++)
        if (page->procs[i].state == RVTK_PROC_FREE) my_slot = i;
    rvtk_proc *p = &page->procs[my_slot];
    __atomic_fetch_add(&page->seq, 1, __ATOMIC_ACQ_REL);
    p->pid = pid;
    p->parent_slot = parent_slot;
    p->cpu_anchor_ns = cpu_of(pid);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->state = RVTK_PROC_LIVE;
    if ((uint32_t)my_slot >= page->nprocs) page->nprocs = (uint32_t)my_slot + 1;
    __atomic_fetch_add(&page->seq, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&page->lock);
}

/* Re-anchor (G never goes back when this process's CPU stops counting), then EXITED. */
static void leave(int code) {
    lock();
    __atomic_fetch_add(&page->seq, 1, __ATOMIC_ACQ_REL);
    int64_t most = 0, cpu[RVTK_MAX_PROCS];
    for (uint32_t i = 0; i < page->nprocs; i++)
        if (page->procs[i].state == RVTK_PROC_LIVE && (cpu[i] = cpu_of(page->procs[i].pid)) >= 0 &&
            cpu[i] - page->procs[i].cpu_anchor_ns > most)
            most = cpu[i] - page->procs[i].cpu_anchor_ns;
    page->anchor_virtual_ns += (int64_t)(page->cpu_scale * (double)most);
    for (uint32_t i = 0; i < page->nprocs; i++)
        if (page->procs[i].state == RVTK_PROC_LIVE && cpu[i] >= 0) page->procs[i].cpu_anchor_ns = cpu[i];
    page->procs[my_slot].exit_code = code;
    page->procs[my_slot].state = RVTK_PROC_EXITED;
    __atomic_fetch_add(&page->seq, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&page->lock);
    bump_notify();
    exit(code);
}

static rvtk_thread *my_thread;   /* claimed at the first wait, kept for the next */

static void wait_virtual(int64_t target) {
    int32_t tid = (int32_t)syscall(SYS_gettid);
    rvtk_thread *t = my_thread;
    for (int i = 0; i < RVTK_MAX_THREADS && !t; i++) {
        int32_t free_tid = 0;
        if (__atomic_compare_exchange_n(&page->threads[i].tid, &free_tid, tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            t = &page->threads[i];
            uint32_t n = __atomic_load_n(&page->nthreads, __ATOMIC_ACQUIRE);
            while ((uint32_t)i >= n && !__atomic_compare_exchange_n(&page->nthreads, &n, (uint32_t)i + 1, 0,
                                                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {}
        }
    }
    my_thread = t;
    t->proc = my_slot;
    t->target = target;
    snprintf(t->what, sizeof t->what, "test-wait");
    __atomic_store_n(&t->in_wait, RVTK_WAIT_VIRTUAL, __ATOMIC_RELEASE);
    bump_notify();
    int64_t g;
    for (;;) {
        uint32_t gen = __atomic_load_n(&page->generation, __ATOMIC_ACQUIRE);
        g = now_g();
        if (g >= target || page->failed) break;
        struct timespec ts = {0, 100000000};
        syscall(SYS_futex, &page->generation, FUTEX_WAIT, gen, &ts, NULL, 0);
    }
    __atomic_store_n(&t->in_wait, RVTK_RUNNING, __ATOMIC_RELEASE);
    if (page->failed) {
        printf("FAILED %s\n", page->fail_reason);
        exit(3);
    }
    printf("WOKE anchor=%lld g=%lld generation=%u wall=%lld\n", (long long)page->anchor_virtual_ns, (long long)g,
           page->generation, (long long)ns(CLOCK_MONOTONIC));
    fflush(stdout);
}

static int64_t target_arg(const char *s) { return strcmp(s, "none") ? atoll(s) : RVTK_NO_TARGET; }

static void read_until_eof(void) {
    char c;
    while (read(0, &c, 1) > 0) {}
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    char name[64];
    snprintf(name, sizeof name, "participant %s%s%s", argv[1], argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
    join(name);
    if (!strcmp(argv[1], "wait")) {
        wait_virtual(target_arg(argv[2]));
    } else if (!strcmp(argv[1], "burn")) {
        int64_t end = ns(CLOCK_MONOTONIC) + (int64_t)(atof(argv[2]) * 1e9);
        volatile uint64_t x = 0;
        while (ns(CLOCK_MONOTONIC) < end) x++;
        printf("BLOCKED wall=%lld\n", (long long)ns(CLOCK_MONOTONIC));
        read_until_eof();
    } else if (!strcmp(argv[1], "block")) {
        read_until_eof();
    } else if (!strcmp(argv[1], "die-locked")) {
        lock();
        __atomic_fetch_add(&page->seq, 1, __ATOMIC_ACQ_REL);
        raise(SIGKILL);
    } else if (!strcmp(argv[1], "stop")) {
        pid_t victim = (pid_t)atoi(argv[2]);
        lock();
        for (uint32_t i = 0; i < page->nprocs; i++)
            if (page->procs[i].state == RVTK_PROC_LIVE && page->procs[i].pid == victim) {
                page->procs[i].exit_code = 128 + SIGTERM;
                page->procs[i].state = RVTK_PROC_EXITED;
            }
        pthread_mutex_unlock(&page->lock);
        kill(victim, SIGTERM);
        wait_virtual(target_arg(argv[3]));
    } else if (!strcmp(argv[1], "exit")) {
        leave(atoi(argv[2]));
    } else if (!strcmp(argv[1], "child-exits")) {
        pid_t child = fork();
        if (child == 0) {
            my_slot = -1;
            join("participant child");
            leave(atoi(argv[2]));
        }
        waitpid(child, NULL, 0);
        wait_virtual(target_arg(argv[3]));
    } else {
        return 2;
    }
    leave(0);
}
