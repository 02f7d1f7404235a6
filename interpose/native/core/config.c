/* Configuration read once per process: environment set by the launcher plus the hardware file. */
#define _GNU_SOURCE
#include "revati.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rv_config g_cfg;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void parse_hw_file(const char *path, rv_config *c) {
    FILE *f = fopen(path, "r");
    if (!f) rv_fatal("cannot read the hardware description %s (REVATI_HARDWARE)", path);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *val = strchr(line, ' ');
        if (!val) continue;
        *val++ = 0;
        if (!strcmp(line, "name")) snprintf(c->hw.name, sizeof c->hw.name, "%s", val);
        else if (!strcmp(line, "key")) snprintf(c->hw.key, sizeof c->hw.key, "%s", val);
        else if (!strcmp(line, "uuid")) snprintf(c->hw.uuid, sizeof c->hw.uuid, "%s", val);
        else if (!strcmp(line, "gpus")) c->gpus = atoi(val);
        else if (!strcmp(line, "total_memory")) c->hw.total_memory = strtoull(val, 0, 10);
        else if (!strcmp(line, "reserved_memory")) c->hw.reserved_memory = strtoull(val, 0, 10);
        else if (!strcmp(line, "launch_latency_ns")) c->hw.launch_latency_ns = strtoll(val, 0, 10);
        else if (!strcmp(line, "sync_latency_ns")) c->hw.sync_latency_ns = strtoll(val, 0, 10);
        else if (!strcmp(line, "cudnn_plan_build_ns")) c->hw.cudnn_plan_build_ns = strtoll(val, 0, 10);
        else if (!strcmp(line, "cudnn_heuristics_ns")) c->hw.cudnn_heuristics_ns = strtoll(val, 0, 10);
        else if (!strcmp(line, "cudnn_opgraph_ns")) c->hw.cudnn_opgraph_ns = strtoll(val, 0, 10);
        else if (!strcmp(line, "graph_instantiate_ns_per_node")) c->hw.graph_instantiate_ns_per_node = strtoll(val, 0, 10);
        else if (!strcmp(line, "graph_upload_ns_per_node")) c->hw.graph_upload_ns_per_node = strtoll(val, 0, 10);
        else if (!strcmp(line, "attr")) {
            char *end;
            long a = strtol(val, &end, 10);
            if (a >= 0 && a < RV_MAX_ATTR) {
                c->hw.attr[a] = (int)strtol(end, 0, 10);
                c->hw.attr_known[a] = true;
            }
        }
    }
    fclose(f);
    if (!c->hw.total_memory || !c->hw.name[0])
        rv_fatal("hardware description %s lacks name/total_memory", path);
}

static void load(void) {
    rv_config *c = &g_cfg;
    const char *hw = getenv("REVATI_HARDWARE");
    if (!hw || !*hw)
        rv_fatal("REVATI_HARDWARE is not set: run programs on virtual GPUs with `revati-search run -- CMD`");
    parse_hw_file(hw, c);
    const char *g = getenv("REVATI_GPUS");
    if (g && *g) c->gpus = atoi(g);
    if (c->gpus < 1 || c->gpus > RV_MAX_DEVICES) rv_fatal("REVATI_GPUS must be 1..%d (got %d)", RV_MAX_DEVICES, c->gpus);
    const char *m = getenv("REVATI_REAL_ALLOC_MAX");
    c->real_alloc_max = (m && *m) ? strtoull(m, 0, 10) : (20ull << 20);
    const char *s = getenv("REVATI_STRICT");
    c->strict = s && *s && strcmp(s, "0");
    const char *t = getenv("REVATI_TRACE_DIR");
    if (t) snprintf(c->trace_dir, sizeof c->trace_dir, "%s", t);
    const char *p = getenv("REVATI_PREDICTOR");
    if (p) snprintf(c->predictor, sizeof c->predictor, "%s", p);
}

const rv_config *rv_cfg(void) {
    pthread_once(&g_once, load);
    return &g_cfg;
}

/* ---------- CUDA_VISIBLE_DEVICES: visible (logical) -> physical devices ---------- */
static int g_visible[RV_MAX_DEVICES];
static int g_nvisible;
static pthread_once_t g_vis_once = PTHREAD_ONCE_INIT;

static void physical_uuid(int phys, unsigned char out[16]) {
    const char *hex = rv_cfg()->hw.uuid;
    memset(out, 0, 16);
    for (int i = 0; i < 16 && hex[2 * i] && hex[2 * i + 1]; i++) {
        unsigned b;
        sscanf(hex + 2 * i, "%2x", &b);
        out[i] = (unsigned char)(i == 15 ? b + phys : b);   /* distinct per device */
    }
}

/* "GPU-xxxxxxxx-..." (a prefix is enough, as in CUDA) -> physical index, or -1. */
static int by_uuid(const char *tok, size_t len) {
    char want[64] = {0};
    size_t n = 0;
    for (size_t i = 4; i < len && n < sizeof want - 1; i++)
        if (tok[i] != '-') want[n++] = (char)tolower((unsigned char)tok[i]);
    for (int p = 0; p < rv_cfg()->gpus; p++) {
        unsigned char u[16];
        char hex[33];
        physical_uuid(p, u);
        for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", u[i]);
        if (n && !strncmp(hex, want, n)) return p;
    }
    return -1;
}

/* As CUDA reads the list: stop at the first entry that names no device. */
static void parse_visible(void) {
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    int gpus = rv_cfg()->gpus;
    if (!v) {
        for (int i = 0; i < gpus; i++) g_visible[i] = i;
        g_nvisible = gpus;
        return;
    }
    while (*v && g_nvisible < RV_MAX_DEVICES) {
        size_t len = strcspn(v, ",");
        while (len && isspace((unsigned char)*v)) { v++; len--; }
        int phys = -1;
        if (len > 4 && !strncmp(v, "GPU-", 4)) phys = by_uuid(v, len);
        else if (len && isdigit((unsigned char)*v)) phys = atoi(v);
        if (phys < 0 || phys >= gpus) break;
        g_visible[g_nvisible++] = phys;
        v += len;
        if (*v == ',') v++;
    }
}

int rv_device_count(void) {
    pthread_once(&g_vis_once, parse_visible);
    return g_nvisible;
}

bool rv_device_valid(int dev) { return dev >= 0 && dev < rv_device_count(); }

int rv_device_physical(int dev) { return rv_device_valid(dev) ? g_visible[dev] : -1; }

void rv_device_uuid(int dev, unsigned char out[16]) { physical_uuid(rv_device_physical(dev), out); }

int rv_device_by_pci_bus(int bus) {
    for (int d = 0; d < rv_device_count(); d++)
        if (g_visible[d] == bus) return d;
    return -1;
}

static __thread int t_device;
int rv_current_device(void) { return t_device; }
void rv_set_current_device(int dev) { t_device = dev; }

int rv_hw_attr(int attr, int *value) {
    const rv_config *c = rv_cfg();
    if (attr < 0 || attr >= RV_MAX_ATTR || !c->hw.attr_known[attr]) return -1;
    *value = c->hw.attr[attr];
    return 0;
}
