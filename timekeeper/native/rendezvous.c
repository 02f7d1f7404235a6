/* Collectives across processes in virtual time: the ranks of one collective meet in a table of
 * slots in shared memory (<clock page>.coll, created by the first rank that needs it); the last to
 * arrive wakes the others, and all learn the latest arrival. A waiting rank is blocked with no
 * target: the clock can jump only over other participants' deadlines, never past the rendezvous. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati.h"
#include "revati_clock.h"
#include "revati_time.h"

#define SLOTS 4096

typedef struct {
    uint64_t key;        /* 0: free */
    int32_t nranks;
    uint32_t arrived;    /* futex: the last rank's arrival wakes the others */
    uint32_t departed;
    uint32_t pad;
    int64_t latest;      /* latest arrival so far */
} slot;

static slot *g_slots;
static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;

static slot *table(void) {
    pthread_mutex_lock(&g_open_lock);
    if (!g_slots) {
        char path[1100];
        snprintf(path, sizeof path, "%s.coll", getenv("REVATI_TIMEKEEPER"));
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, SLOTS * sizeof(slot))) rv_fatal("cannot open the collective table %s", path);
        void *m = mmap(NULL, SLOTS * sizeof(slot), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED) rv_fatal("cannot map the collective table %s", path);
        g_slots = m;
    }
    pthread_mutex_unlock(&g_open_lock);
    return g_slots;
}

/* The slot of `key`, claimed if new (open addressing; claims race through compare-and-swap). */
static slot *find(uint64_t key, int nranks) {
    slot *t = table();
    for (uint64_t i = 0; i < SLOTS; i++) {
        slot *s = &t[(key + i) % SLOTS];
        uint64_t cur = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
        if (cur == key) return s;
        if (cur == 0) {
            uint64_t expected = 0;
            if (__atomic_compare_exchange_n(&s->key, &expected, key, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                s->nranks = nranks;
                return s;
            }
            if (expected == key) return s;
        }
    }
    rv_fatal("more than %d collectives in flight", SLOTS);
}

rv_ns rv_rendezvous(uint64_t key, int nranks, rv_ns arrival, const char *what) {
    if (!rvtk_active() || nranks <= 1) return arrival;
    if (key == 0) key = 1;
    slot *s = find(key, nranks);
    int64_t cur = __atomic_load_n(&s->latest, __ATOMIC_ACQUIRE);
    while (arrival > cur && !__atomic_compare_exchange_n(&s->latest, &cur, arrival, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {}
    uint32_t n = __atomic_add_fetch(&s->arrived, 1, __ATOMIC_ACQ_REL);
    if ((int)n >= nranks) {
        syscall(SYS_futex, &s->arrived, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    } else {
        char label[64];
        snprintf(label, sizeof label, "%s rendezvous (%u of %d ranks)", what, n, nranks);
        rvtk_wait_for(&s->arrived, (uint32_t)nranks, label);
    }
    rv_ns latest = __atomic_load_n(&s->latest, __ATOMIC_ACQUIRE);
    if ((int)__atomic_add_fetch(&s->departed, 1, __ATOMIC_ACQ_REL) == nranks) {
        s->arrived = s->departed = 0;
        s->latest = 0;
        __atomic_store_n(&s->key, 0, __ATOMIC_RELEASE);   /* free for the next collective */
    }
    return latest;
}
