/* Keeps every real CUDA library out of the process: a dlopen of a known CUDA library, by name or by
 * path (torch preloads the nvidia-* wheel copies by full path; some wheels bundle renamed copies),
 * opens our fake instead. The real dlopen is reached by a tail call so that the caller's RUNPATH
 * still decides how other names are searched. */
#define _GNU_SOURCE
#include "revati.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char *const k_fakes[] = {
    "libcudart.so", "libcuda.so", "libcublas.so", "libcublasLt.so", "libcudnn.so", "libnccl.so",
    "libnvidia-ml.so", "libcusparse.so", "libcusparseLt.so", "libcufft.so", "libcurand.so",
    "libcufile.so", "libcupti.so", "libnvshmem_host.so", "libcusolver.so", "libnvrtc.so",
};

static char g_dir[PATH_MAX];
static pthread_once_t g_dir_once = PTHREAD_ONCE_INIT;

static void find_dir(void) {
    Dl_info info;
    if (dladdr((void *)find_dir, &info) && info.dli_fname) {
        snprintf(g_dir, sizeof g_dir, "%s", info.dli_fname);
        char *slash = strrchr(g_dir, '/');
        if (slash) *slash = 0;
    }
}

const char *rv_lib_dir(void) {
    pthread_once(&g_dir_once, find_dir);
    return g_dir;
}

/* Our SONAME for a requested path: "…/libcudart.so.13" and "libcudart.a1b2c3.so.13" both map to
 * the fake libcudart; NULL if it is not a CUDA library we fake (or already ours). */
static const char *fake_for(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof k_fakes / sizeof *k_fakes; i++) {
        const char *stem = k_fakes[i];
        size_t n = strlen(stem) - 3;   /* "libcudart" */
        if (strncmp(base, stem, n) != 0) continue;
        const char *rest = base + n;
        /* exact stem ("libcublas" must not match "libcublasLt"), then ".so…" or ".<hash>.so…" */
        if (rest[0] != '.') continue;
        if (!strstr(rest, ".so")) continue;
        if (strncmp(path, rv_lib_dir(), strlen(rv_lib_dir())) == 0) return NULL;
        const char *so = strstr(rest, ".so");
        snprintf(out, size, "%s/%.*s%s", rv_lib_dir(), (int)n, stem, so);
        return out;
    }
    return NULL;
}

typedef void *(*dlopen_fn)(const char *, int);
static dlopen_fn g_real;

RV_EXPORT void *dlopen(const char *path, int flags) {
    if (RV_UNLIKELY(!g_real)) {   /* libc's: next after us when preloaded, else first in scope */
        g_real = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
        if (!g_real) g_real = (dlopen_fn)dlsym(RTLD_DEFAULT, "dlopen");
    }
    char buf[PATH_MAX];
    if (path && strstr(path, "lib") && fake_for(path, buf, sizeof buf)) path = buf;
    return g_real(path, flags);   /* tail call: the caller's return address reaches glibc */
}

void *rv_fake_lib(const char *soname) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", rv_lib_dir(), soname);
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) rv_fatal("cannot open %s: %s", path, dlerror());
    return h;
}
