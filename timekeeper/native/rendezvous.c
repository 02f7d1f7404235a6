/* Collectives across processes in virtual time: the ranks of one collective meet in a table of
 * slots in shared memory (<clock page>.coll, created by the first rank that needs it); the last to
 * arrive wakes the others, and all learn the latest arrival. A waiting rank is blocked with no
 * target: the clock can jump only over other participants' deadlines, never past the rendezvous. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
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
#define WAYS 8                    /* slots per bucket: a key lives in the bucket key % BUCKETS */
#define BUCKETS (SLOTS / WAYS)

typedef struct {
    uint64_t key;        /* 0: free */
    int32_t nranks;
    uint32_t arrived;    /* futex: the last rank's arrival wakes the others */
    uint32_t departed;
    uint32_t lock;       /* in a bucket's first slot: the bucket's lock (find-or-claim) */
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

/* The slot of `key`, claimed if new. Looking for the key and claiming a free slot for it happen
 * under the bucket's lock, over the whole bucket: the ranks of one collective always meet in one
 * slot. (Open addressing with a free-on-last-departure let them split: a fast rank found its key's
 * home slot still held by the previous collective and claimed the next one; the slower rank then
 * freed the home slot on its way out and claimed it for the same key, and each waited for the
 * other forever.) */
static slot *find(uint64_t key, int nranks) {
    slot *b = &table()[(key % BUCKETS) * WAYS];
    uint32_t *lock = &b[0].lock;
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(lock, __ATOMIC_RELAXED)) sched_yield();
    slot *found = NULL, *free_slot = NULL;
    for (int i = 0; i < WAYS && !found; i++) {
        uint64_t cur = __atomic_load_n(&b[i].key, __ATOMIC_ACQUIRE);
        if (cur == key) found = &b[i];
        else if (cur == 0 && !free_slot) free_slot = &b[i];
    }
    if (!found && free_slot) {
        free_slot->nranks = nranks;
        __atomic_store_n(&free_slot->key, key, __ATOMIC_RELEASE);
        found = free_slot;
    }
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
    if (!found) rv_fatal("more than %d collectives in flight in one rendezvous bucket", WAYS);
    return found;
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
