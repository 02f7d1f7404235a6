/* The floor under a clock jump's round trip on this machine: two threads hand a token back and forth
 * through futexes (a blocked participant notifies the timekeeper's monitor, the monitor wakes it).
 * Prints the median round trip in microseconds over N hand-offs.  Build: gcc -O2 -pthread */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int ping, pong;
static int rounds = 20000;

static void wait_for(atomic_int *word, int value) {
    int seen;
    while ((seen = atomic_load(word)) < value) syscall(SYS_futex, word, FUTEX_WAIT, seen, NULL, NULL, 0);
}

static void post(atomic_int *word, int value) {
    atomic_store(word, value);
    syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void *echo(void *arg) {
    (void)arg;
    for (int i = 1; i <= rounds; i++) {
        wait_for(&ping, i);
        post(&pong, i);
    }
    return NULL;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atoi(argv[1]);
    pthread_t t;
    pthread_create(&t, NULL, echo, NULL);
    long long t0 = now_ns();
    for (int i = 1; i <= rounds; i++) {
        post(&ping, i);
        wait_for(&pong, i);
    }
    printf("%.2f\n", (now_ns() - t0) / 1e3 / rounds);
    pthread_join(t, NULL);
    return 0;
}
