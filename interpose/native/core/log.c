/* Diagnostics and per-API call counters (written beside the trace at exit). */
#define _GNU_SOURCE
#include "revati.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rv_log(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[revati %d] %s\n", (int)getpid(), buf);
}

void rv_fatal(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[revati %d] fatal: %s\n", (int)getpid(), buf);
    fflush(stderr);
    abort();
}

static rv_api_counter *g_counters;

void rv_counter_register(rv_api_counter *c) {
    int expected = 0;
    /* 2 = registration in progress; losers just count, the winner links it once */
    if (!__atomic_compare_exchange_n(&c->registered, &expected, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return;
    rv_api_counter *head = __atomic_load_n(&g_counters, __ATOMIC_ACQUIRE);
    do c->next = head;
    while (!__atomic_compare_exchange_n(&g_counters, &head, c, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    __atomic_store_n(&c->registered, 1, __ATOMIC_RELEASE);
}

long rv_stub_hit(rv_api_counter *c, long not_supported) {
    bool first = !__atomic_load_n(&c->registered, __ATOMIC_ACQUIRE);
    rv_count(c);
    if (rv_cfg()->strict)
        rv_fatal("%s (%s) has no emulated behaviour (strict mode)", c->name, c->lib);
    if (first)
        rv_log("%s (%s) has no emulated behaviour; returning error %ld to the caller", c->name, c->lib, not_supported);
    return not_supported;
}

/* JSON: {"pid":..,"calls":[{"lib":..,"name":..,"calls":..,"stub":..},...]} */
void rv_counters_dump(const char *dir) {
    if (!__atomic_load_n(&g_counters, __ATOMIC_ACQUIRE)) return;   /* never called CUDA */
    char path[1200];
    snprintf(path, sizeof path, "%s/api-%d.json", dir, (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) return;
    char exe[512] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) exe[n] = 0;
    fprintf(f, "{\"pid\": %d, \"exe\": \"%s\", \"calls\": [", (int)getpid(), exe);
    int first = 1;
    for (rv_api_counter *c = __atomic_load_n(&g_counters, __ATOMIC_ACQUIRE); c; c = c->next) {
        fprintf(f, "%s\n {\"lib\": \"%s\", \"name\": \"%s\", \"calls\": %llu, \"stub\": %s}", first ? "" : ",",
                c->lib, c->name, (unsigned long long)c->calls, c->stub ? "true" : "false");
        first = 0;
    }
    fprintf(f, "\n]}\n");
    fclose(f);
}
