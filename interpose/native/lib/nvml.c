/* Fake NVML (libnvidia-ml.so.1): the virtual machine's GPUs as the management library describes them.
 *
 * Asked by torch.cuda.device_count (nvmlInit, DeviceGetCount_v2, UUIDs when CUDA_VISIBLE_DEVICES names
 * them), torch.cuda.utilization/temperature/power_draw/clock_rate/list_gpu_processes (pynvml), vLLM's
 * platform detection (name, compute capability, memory, UUID, P2P over NVLink, NUMA, CPU affinity,
 * PCI info) and nvidia-smi-like tools. Values come from the hardware description (rv_cfg()->hw),
 * the per-device memory accounting of the core, and the measurements of real H100/H200 hosts
 * (predictors/hardware/measured/<gpu>-probe.json): driver 580.159.04, CUDA driver 13000, clocks from the
 * device attributes, power limit 700 W.
 *
 * Every virtual device is the same hardware; what tells devices apart is derived from the index:
 * UUID (the catalog's with the index added to its last byte), PCI bus number (= index), minor
 * number, as the fake CUDA runtime and driver report them. The interconnect is an NVLink/NVSwitch
 * machine: P2P is OK between every pair, every GPU sits on NUMA node 0 of the emulation host.
 */
#define _GNU_SOURCE
#include "revati.h"
#include "abi/nvml.h"

#include <ctype.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LIB "libnvidia-ml.so.1"
#define API() RV_API(LIB)

#define DRIVER_VERSION "580.159.04"
#if RV_CUDA_MAJOR >= 13
#define CUDA_DRIVER_VERSION (RV_CUDA_MAJOR * 1000)   /* 13000: what the r580 driver reports */
#else
#define CUDA_DRIVER_VERSION (RV_CUDA_MAJOR * 1000 + 80)   /* 12080: a CUDA 12.8 driver */
#endif


/* NVML sees the machine's physical devices: CUDA_VISIBLE_DEVICES does not apply to it. */
static int physical_count(void) { return rv_cfg()->gpus; }
static bool physical_valid(int d) { return d >= 0 && d < physical_count(); }
/* CUdevice_attribute numbers read from the hardware description */
#define ATTR_CLOCK_RATE 13          /* kHz */
#define ATTR_SM_COUNT 16
#define ATTR_MEMORY_CLOCK_RATE 36   /* kHz */
#define ATTR_GLOBAL_MEMORY_BUS_WIDTH 37
#define ATTR_PCI_DOMAIN_ID 50
#define ATTR_CC_MAJOR 75
#define ATTR_CC_MINOR 76

#define DEV_MAGIC 0x6e766d6cU
#define MIB (1024ull * 1024ull)

struct nvmlDevice_st {
    uint32_t magic;
    int index;
};
static struct nvmlDevice_st g_devs[RV_MAX_DEVICES];
static int g_init;   /* nvmlInit calls not yet matched by nvmlShutdown */

struct nvmlEventSet_st { uint32_t magic; };

/* ---------- helpers ---------- */

static int attr_or(int attr, int dflt) {
    int v;
    return rv_hw_attr(attr, &v) == 0 ? v : dflt;
}

static int cc_major(void) { return attr_or(ATTR_CC_MAJOR, 9); }
static int cc_minor(void) { return attr_or(ATTR_CC_MINOR, 0); }

static bool inited(void) { return __atomic_load_n(&g_init, __ATOMIC_ACQUIRE) > 0; }

/* The device behind a handle, or -1 (NVML answers INVALID_ARGUMENT). */
static int dev_of(nvmlDevice_t d) {
    if (d < g_devs || d >= g_devs + RV_MAX_DEVICES || d->magic != DEV_MAGIC) return -1;
    return physical_valid(d->index) ? d->index : -1;
}

/* Prologue of every device query: library initialised, handle valid. */
#define DEVICE(handle, dev)                                  \
    if (!inited()) return NVML_ERROR_UNINITIALIZED;          \
    int dev = dev_of(handle);                                \
    if (dev < 0) return NVML_ERROR_INVALID_ARGUMENT

/* A query whose answer is the same for every device (after checking the handle and the pointer). */
#define DEVICE_VALUE(name, type, value)                                   \
    RV_EXPORT nvmlReturn_t name(nvmlDevice_t device, type *out) {         \
        API();                                                            \
        DEVICE(device, dev);                                              \
        (void)dev;                                                        \
        if (!out) return NVML_ERROR_INVALID_ARGUMENT;                     \
        *out = (value);                                                   \
        return NVML_SUCCESS;                                              \
    }

static nvmlDevice_t handle_of(int dev) {
    g_devs[dev].magic = DEV_MAGIC;
    g_devs[dev].index = dev;
    return &g_devs[dev];
}

/* Copies s into a caller buffer of `len` bytes; INSUFFICIENT_SIZE when it does not fit. */
static nvmlReturn_t put_str(char *buf, unsigned len, const char *s) {
    if (!buf) return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(s);
    if (n + 1 > len) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, n + 1);
    return NVML_SUCCESS;
}

/* "GPU-de6a80b2-7d32-3d3c-ba00-481da5546d7e": the catalog UUID with the index added to its last byte
 * (modulo 256), the rule cudaDeviceProp.uuid and cuDeviceGetUuid follow (cudart.c, cuda.c). */
static void uuid_str(int dev, char out[NVML_DEVICE_UUID_BUFFER_SIZE]) {
    const char *u = rv_cfg()->hw.uuid;
    char hex[33];
    size_t n = strlen(u);
    for (size_t i = 0; i < 32; i++) hex[i] = i < n && isxdigit((unsigned char)u[i]) ? (char)tolower(u[i]) : '0';
    hex[32] = 0;
    unsigned last = (unsigned)strtoul(hex + 30, NULL, 16);
    snprintf(hex + 30, 3, "%02x", (last + (unsigned)dev) & 0xff);
    snprintf(out, NVML_DEVICE_UUID_BUFFER_SIZE, "GPU-%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

/* PCI location of virtual device `dev`: bus number = index, device 0 ("00000000:01:00.0" for
 * device 1), the rule of cudaDeviceGetPCIBusId/cuDeviceGetPCIBusId (cudart.c, cuda.c). */
static void pci_loc(int dev, unsigned *domain, unsigned *bus, unsigned *device) {
    *domain = (unsigned)attr_or(ATTR_PCI_DOMAIN_ID, 0);
    *bus = (unsigned)dev;
    *device = 0;
}

/* PCI device id of the product (device << 16 | NVIDIA's vendor id 0x10de). */
static unsigned pci_device_id(void) {
    const char *key = rv_cfg()->hw.key, *name = rv_cfg()->hw.name;
    unsigned id = 0x2330;                                   /* H100 SXM5 80GB */
    if (!strcmp(key, "h200") || strstr(name, "H200")) id = 0x2335;
    else if (!strcmp(key, "a100") || strstr(name, "A100")) id = strstr(name, "80GB") ? 0x20b2 : 0x20b0;
    else if (strstr(name, "H100 PCIe")) id = 0x2331;
    return id << 16 | 0x10de;
}

static void bus_id(int dev, char *out, size_t size, bool legacy) {
    unsigned domain, bus, device;
    pci_loc(dev, &domain, &bus, &device);
    if (legacy) snprintf(out, size, "%04X:%02X:%02X.0", domain & 0xffff, bus, device);
    else snprintf(out, size, "%08X:%02X:%02X.0", domain, bus, device);
}

static void fill_pci(int dev, nvmlPciInfo_t *p) {
    memset(p, 0, sizeof *p);
    pci_loc(dev, &p->domain, &p->bus, &p->device);
    p->pciDeviceId = pci_device_id();
    p->pciSubSystemId = (pci_device_id() >> 16) == 0x2330 ? 0x16c110de : pci_device_id();   /* H100 SXM5 board */
    bus_id(dev, p->busIdLegacy, sizeof p->busIdLegacy, true);
    bus_id(dev, p->busId, sizeof p->busId, false);
}

/* NVML's total is larger than cudaMemGetInfo's: the driver keeps part of the framebuffer for itself
 * (NVML v2 calls it "reserved"). Measured: H100 80GB 81559 MiB vs 81079 MiB, H200 143771 MiB vs
 * 143155.94 MiB. NVML's total is whole MiB: CUDA's rounded up plus a fixed part and a share of memory
 * (page tables), 304 MiB + 1/460, rounded to MiB; this reproduces both exactly. */
static uint64_t nvml_total(void) {
    uint64_t total_mib = (rv_cfg()->hw.total_memory + MIB - 1) / MIB;
    return (total_mib + (uint64_t)(304.0 + (double)total_mib / 460.0 + 0.5)) * MIB;
}

static int sm_clock_mhz(void) { return attr_or(ATTR_CLOCK_RATE, 1980000) / 1000; }
static int mem_clock_mhz(void) { return attr_or(ATTR_MEMORY_CLOCK_RATE, 2619000) / 1000; }

static unsigned clock_mhz(nvmlClockType_t type) {
    switch (type) {
    case NVML_CLOCK_GRAPHICS:
    case NVML_CLOCK_SM: return (unsigned)sm_clock_mhz();
    case NVML_CLOCK_MEM: return (unsigned)mem_clock_mhz();
    case NVML_CLOCK_VIDEO: return (unsigned)(sm_clock_mhz() * 1755 / 1980);   /* H100: 1755 of 1980 */
    default: return 0;
    }
}

static unsigned power_limit_mw(void) {
    const char *key = rv_cfg()->hw.key, *name = rv_cfg()->hw.name;
    if (!strcmp(key, "a100") || strstr(name, "A100")) return 400000;
    if (strstr(name, "PCIe")) return 350000;
    return 700000;   /* H100/H200 SXM, measured */
}

#define IDLE_POWER_MW 72000u
#define TEMPERATURE_C 33u

static int nvlinks(void) {
    int maj = cc_major();
    if (maj == 9 || maj == 10) return 18;   /* NVLink 4/5: 18 links */
    if (maj == 8 && cc_minor() == 0) return 12;   /* A100: NVLink 3 */
    return 0;
}

static int nvlink_version(void) { return cc_major() >= 10 ? 5 : cc_major() == 9 ? 4 : 3; }

/* ---------- init, system ---------- */

static nvmlReturn_t nvmlInit_v2_impl(void) {
    (void)rv_cfg();   /* the hardware description must be there (fatal, naming the cause, if not) */
    __atomic_fetch_add(&g_init, 1, __ATOMIC_ACQ_REL);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlInit_v2(void) {
    API();
    return nvmlInit_v2_impl();
}

RV_EXPORT nvmlReturn_t nvmlInit(void) {
    API();
    return nvmlInit_v2_impl();
}

RV_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    API();
    (void)flags;
    return nvmlInit_v2_impl();
}

RV_EXPORT nvmlReturn_t nvmlShutdown(void) {
    API();
    int n = __atomic_load_n(&g_init, __ATOMIC_ACQUIRE);
    while (n > 0 && !__atomic_compare_exchange_n(&g_init, &n, n - 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {}
    return n > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
}

RV_EXPORT const char *nvmlErrorString(nvmlReturn_t r) {
    API();
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request.";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "The requested vgpu operation is not available on target device, because ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED: return "Reset type not supported";
    default: return "Unknown Error";
    }
}

RV_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    API();
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    return put_str(version, length, DRIVER_VERSION);
}

RV_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    API();
    char v[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    snprintf(v, sizeof v, "%d.%s", CUDA_DRIVER_VERSION / 1000, DRIVER_VERSION);
    return put_str(version, length, v);
}

static nvmlReturn_t nvmlSystemGetCudaDriverVersion_impl(int *v) {
    if (!v) return NVML_ERROR_INVALID_ARGUMENT;
    *v = CUDA_DRIVER_VERSION;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) {
    API();
    return nvmlSystemGetCudaDriverVersion_impl(v);
}

RV_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) {
    API();
    return nvmlSystemGetCudaDriverVersion_impl(v);
}

RV_EXPORT nvmlReturn_t nvmlSystemGetDriverBranch(nvmlSystemDriverBranchInfo_v1_t *info, unsigned int length) {
    API();
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!info) return NVML_ERROR_INVALID_ARGUMENT;
    if (info->version != nvmlSystemDriverBranchInfo_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    unsigned major = (unsigned)atoi(DRIVER_VERSION);
    char b[32];
    snprintf(b, sizeof b, "r%u_00", major);
    return put_str(info->branch, length < sizeof info->branch ? length : sizeof info->branch, b);
}

RV_EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int length) {
    API();
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!name || !length) return NVML_ERROR_INVALID_ARGUMENT;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%u/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f) return NVML_ERROR_NOT_FOUND;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;   /* the first argument: the program as started */
    snprintf(name, length, "%s", buf);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlSystemGetTopologyGpuSet(unsigned int cpu, unsigned int *count, nvmlDevice_t *devices) {
    API();
    (void)cpu;
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = (unsigned)physical_count();
    if (!devices || *count == 0) { *count = n; return NVML_SUCCESS; }
    if (*count < n) { *count = n; return NVML_ERROR_INSUFFICIENT_SIZE; }
    for (unsigned i = 0; i < n; i++) devices[i] = handle_of((int)i);
    *count = n;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlUnitGetCount(unsigned int *count) {
    API();
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = 0;
    return NVML_SUCCESS;
}

static nvmlReturn_t nvmlGetExcludedDeviceCount_impl(unsigned int *count) {
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = 0;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlGetExcludedDeviceCount(unsigned int *count) {
    API();
    return nvmlGetExcludedDeviceCount_impl(count);
}

RV_EXPORT nvmlReturn_t nvmlGetBlacklistDeviceCount(unsigned int *count) {
    API();
    return nvmlGetExcludedDeviceCount_impl(count);
}

/* ---------- device handles ---------- */

static nvmlReturn_t nvmlDeviceGetCount_v2_impl(unsigned int *count) {
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = (unsigned)physical_count();
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    API();
    return nvmlDeviceGetCount_v2_impl(count);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) {
    API();
    return nvmlDeviceGetCount_v2_impl(count);
}

static nvmlReturn_t nvmlDeviceGetHandleByIndex_v2_impl(unsigned int index, nvmlDevice_t *device) {
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!device || !physical_valid((int)index)) return NVML_ERROR_INVALID_ARGUMENT;
    *device = handle_of((int)index);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    API();
    return nvmlDeviceGetHandleByIndex_v2_impl(index, device);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    API();
    return nvmlDeviceGetHandleByIndex_v2_impl(index, device);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    API();
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !device) return NVML_ERROR_INVALID_ARGUMENT;
    for (int d = 0; d < physical_count(); d++) {
        char u[NVML_DEVICE_UUID_BUFFER_SIZE];
        uuid_str(d, u);
        if (!strcasecmp(u, uuid)) { *device = handle_of(d); return NVML_SUCCESS; }
    }
    return NVML_ERROR_NOT_FOUND;
}

/* "domain:bus:device.function" in either width ("0000:18:00.0" or "00000000:18:00.0"). */
static bool parse_bus_id(const char *s, unsigned *domain, unsigned *bus, unsigned *device) {
    unsigned fn = 0;
    if (sscanf(s, "%x:%x:%x.%x", domain, bus, device, &fn) >= 3) return true;
    *domain = 0;
    return sscanf(s, "%x:%x.%x", bus, device, &fn) >= 2;
}

static nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2_impl(const char *pciBusId, nvmlDevice_t *device) {
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    unsigned domain, bus, dv;
    if (!pciBusId || !device || !parse_bus_id(pciBusId, &domain, &bus, &dv)) return NVML_ERROR_INVALID_ARGUMENT;
    for (int d = 0; d < physical_count(); d++) {
        unsigned a, b, c;
        pci_loc(d, &a, &b, &c);
        if (a == domain && b == bus && c == dv) { *device = handle_of(d); return NVML_SUCCESS; }
    }
    return NVML_ERROR_NOT_FOUND;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device) {
    API();
    return nvmlDeviceGetHandleByPciBusId_v2_impl(pciBusId, device);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device) {
    API();
    return nvmlDeviceGetHandleByPciBusId_v2_impl(pciBusId, device);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    API();
    DEVICE(device, dev);
    if (!index) return NVML_ERROR_INVALID_ARGUMENT;
    *index = (unsigned)dev;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minor) {
    API();
    DEVICE(device, dev);
    if (!minor) return NVML_ERROR_INVALID_ARGUMENT;
    *minor = (unsigned)dev;   /* /dev/nvidia<minor> */
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetBoardId(nvmlDevice_t device, unsigned int *boardId) {
    API();
    DEVICE(device, dev);
    if (!boardId) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned domain, bus, dv;
    pci_loc(dev, &domain, &bus, &dv);
    *boardId = domain << 16 | bus << 8 | dv << 3;
    return NVML_SUCCESS;
}

DEVICE_VALUE(nvmlDeviceGetMultiGpuBoard, unsigned int, 0)

RV_EXPORT nvmlReturn_t nvmlDeviceOnSameBoard(nvmlDevice_t d1, nvmlDevice_t d2, int *onSameBoard) {
    API();
    DEVICE(d1, a);
    int b = dev_of(d2);
    if (b < 0 || !onSameBoard) return NVML_ERROR_INVALID_ARGUMENT;
    *onSameBoard = a == b;
    return NVML_SUCCESS;
}

/* ---------- identity ---------- */

RV_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    API();
    DEVICE(device, dev);
    (void)dev;
    return put_str(name, length, rv_cfg()->hw.name);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    API();
    DEVICE(device, dev);
    char u[NVML_DEVICE_UUID_BUFFER_SIZE];
    uuid_str(dev, u);
    return put_str(uuid, length, u);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length) {
    API();
    DEVICE(device, dev);
    char s[32];
    snprintf(s, sizeof s, "16523%08d", 1000 + dev);
    return put_str(serial, length, s);
}

DEVICE_VALUE(nvmlDeviceGetBrand, nvmlBrandType_t, NVML_BRAND_NVIDIA)

RV_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, nvmlDeviceArchitecture_t *arch) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!arch) return NVML_ERROR_INVALID_ARGUMENT;
    int maj = cc_major(), min = cc_minor();
    if (maj >= 10) *arch = NVML_DEVICE_ARCH_BLACKWELL;
    else if (maj == 9) *arch = NVML_DEVICE_ARCH_HOPPER;
    else if (maj == 8) *arch = min == 9 ? NVML_DEVICE_ARCH_ADA : NVML_DEVICE_ARCH_AMPERE;
    else if (maj == 7) *arch = min >= 5 ? NVML_DEVICE_ARCH_TURING : NVML_DEVICE_ARCH_VOLTA;
    else *arch = NVML_DEVICE_ARCH_UNKNOWN;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!major || !minor) return NVML_ERROR_INVALID_ARGUMENT;
    *major = cc_major();
    *minor = cc_minor();
    return NVML_SUCCESS;
}

static nvmlReturn_t nvmlDeviceGetAttributes_v2_impl(nvmlDevice_t device, nvmlDeviceAttributes_t *a) {
    DEVICE(device, dev);
    (void)dev;
    if (!a) return NVML_ERROR_INVALID_ARGUMENT;
    memset(a, 0, sizeof *a);
    a->multiprocessorCount = (unsigned)attr_or(ATTR_SM_COUNT, 132);
    a->sharedCopyEngineCount = 8;
    a->sharedDecoderCount = 7;
    a->sharedJpegCount = 7;
    a->sharedOfaCount = 1;
    a->gpuInstanceSliceCount = 7;
    a->computeInstanceSliceCount = 7;
    a->memorySizeMB = nvml_total() / MIB;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t device, nvmlDeviceAttributes_t *a) {
    API();
    return nvmlDeviceGetAttributes_v2_impl(device, a);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetAttributes(nvmlDevice_t device, nvmlDeviceAttributes_t *a) {
    API();
    return nvmlDeviceGetAttributes_v2_impl(device, a);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t device, unsigned int *cores) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!cores) return NVML_ERROR_INVALID_ARGUMENT;
    int per_sm = (cc_major() == 8 && cc_minor() == 0) || cc_major() < 8 ? 64 : 128;
    *cores = (unsigned)(attr_or(ATTR_SM_COUNT, 132) * per_sm);
    return NVML_SUCCESS;
}

/* ---------- PCI ---------- */

static nvmlReturn_t nvmlDeviceGetPciInfo_v3_impl(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    DEVICE(device, dev);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    fill_pci(dev, pci);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    API();
    return nvmlDeviceGetPciInfo_v3_impl(device, pci);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    API();
    return nvmlDeviceGetPciInfo_v3_impl(device, pci);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    API();
    return nvmlDeviceGetPciInfo_v3_impl(device, pci);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDevice_t device, nvmlPciInfoExt_v1_t *pci) {
    API();
    DEVICE(device, dev);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    if (pci->version != nvmlPciInfoExt_v1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlPciInfo_t p;
    fill_pci(dev, &p);
    pci->domain = p.domain;
    pci->bus = p.bus;
    pci->device = p.device;
    pci->pciDeviceId = p.pciDeviceId;
    pci->pciSubSystemId = p.pciSubSystemId;
    pci->baseClass = 0x03;   /* display controller */
    pci->subClass = 0x02;    /* 3D controller */
    memcpy(pci->busId, p.busId, sizeof pci->busId);
    return NVML_SUCCESS;
}

DEVICE_VALUE(nvmlDeviceGetBusType, nvmlBusType_t, NVML_BUS_TYPE_PCIE)

#define PCIE_UINT_QUERY(fn, value)                                      \
    RV_EXPORT nvmlReturn_t fn(nvmlDevice_t device, unsigned int *out) { \
        API();                                                          \
        DEVICE(device, dev);                                            \
        (void)dev;                                                      \
        if (!out) return NVML_ERROR_INVALID_ARGUMENT;                   \
        *out = (value);                                                 \
        return NVML_SUCCESS;                                            \
    }
PCIE_UINT_QUERY(nvmlDeviceGetMaxPcieLinkGeneration, cc_major() >= 9 ? 5 : 4)
PCIE_UINT_QUERY(nvmlDeviceGetGpuMaxPcieLinkGeneration, cc_major() >= 9 ? 5 : 4)
PCIE_UINT_QUERY(nvmlDeviceGetCurrPcieLinkGeneration, cc_major() >= 9 ? 5 : 4)
PCIE_UINT_QUERY(nvmlDeviceGetMaxPcieLinkWidth, 16)
PCIE_UINT_QUERY(nvmlDeviceGetCurrPcieLinkWidth, 16)
PCIE_UINT_QUERY(nvmlDeviceGetPcieLinkMaxSpeed, cc_major() >= 9 ? 32000 : 16000)   /* MB/s per lane class */
PCIE_UINT_QUERY(nvmlDeviceGetPcieSpeed, cc_major() >= 9 ? 32000 : 16000)
PCIE_UINT_QUERY(nvmlDeviceGetPcieReplayCounter, 0)

RV_EXPORT nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, nvmlPcieUtilCounter_t counter, unsigned int *value) {
    API();
    DEVICE(device, dev);
    (void)dev;
    (void)counter;
    if (!value) return NVML_ERROR_INVALID_ARGUMENT;
    *value = 0;
    return NVML_SUCCESS;
}

/* ---------- memory ---------- */

RV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    API();
    DEVICE(device, dev);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    uint64_t free_b, total_b;
    rv_mem_info(rv_device_by_pci_bus(dev), &free_b, &total_b);   /* NVML counts physical devices */
    memory->total = nvml_total();
    memory->free = free_b;
    memory->used = memory->total - free_b;   /* reserved + context + allocations */
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    API();
    DEVICE(device, dev);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    uint64_t free_b, total_b;
    rv_mem_info(rv_device_by_pci_bus(dev), &free_b, &total_b);   /* NVML counts physical devices */
    memory->total = nvml_total();
    memory->reserved = memory->total - total_b;
    memory->free = free_b;
    memory->used = total_b - free_b;   /* context + allocations */
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t device, nvmlBAR1Memory_t *bar1) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!bar1) return NVML_ERROR_INVALID_ARGUMENT;
    bar1->bar1Total = cc_major() >= 9 ? 128ull << 30 : 64ull << 30;
    bar1->bar1Used = 2 * MIB;
    bar1->bar1Free = bar1->bar1Total - bar1->bar1Used;
    return NVML_SUCCESS;
}

DEVICE_VALUE(nvmlDeviceGetMemoryBusWidth, unsigned int, (unsigned)attr_or(ATTR_GLOBAL_MEMORY_BUS_WIDTH, 5120))

/* No process list: processes of an emulation run own only virtual contexts (torch's
 * list_gpu_processes then prints "no processes are running"). */
#define NO_PROCESSES(fn, type)                                                        \
    RV_EXPORT nvmlReturn_t fn(nvmlDevice_t device, unsigned int *infoCount, type *infos) { \
        API();                                                                       \
        DEVICE(device, dev);                                                         \
        (void)dev;                                                                   \
        (void)infos;                                                                 \
        if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;                          \
        *infoCount = 0;                                                              \
        return NVML_SUCCESS;                                                         \
    }
NO_PROCESSES(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t)
NO_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_t)
NO_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t)
NO_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t)
NO_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_t)
NO_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t)
NO_PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses, nvmlProcessInfo_v1_t)
NO_PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvmlProcessInfo_t)
NO_PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvmlProcessInfo_t)

/* ---------- topology, NVLink, NUMA, affinity ---------- */

RV_EXPORT nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t d1, nvmlDevice_t d2, nvmlGpuP2PCapsIndex_t index,
                                              nvmlGpuP2PStatus_t *status) {
    API();
    DEVICE(d1, a);
    (void)a;
    if (dev_of(d2) < 0 || !status) return NVML_ERROR_INVALID_ARGUMENT;
    if ((unsigned)index >= NVML_P2P_CAPS_INDEX_UNKNOWN) { *status = NVML_P2P_STATUS_UNKNOWN; return NVML_SUCCESS; }
    *status = NVML_P2P_STATUS_OK;   /* NVLink/NVSwitch: every pair reads, writes and atomics peer-to-peer */
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t d1, nvmlDevice_t d2,
                                                           nvmlGpuTopologyLevel_t *level) {
    API();
    DEVICE(d1, a);
    int b = dev_of(d2);
    if (b < 0 || !level) return NVML_ERROR_INVALID_ARGUMENT;
    /* PCIe ancestry (NVLink is not a level): the same GPU, else the same NUMA node (all of them) */
    *level = a == b ? NVML_TOPOLOGY_INTERNAL : NVML_TOPOLOGY_NODE;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetTopologyNearestGpus(nvmlDevice_t device, nvmlGpuTopologyLevel_t level,
                                                        unsigned int *count, nvmlDevice_t *devices) {
    API();
    DEVICE(device, dev);
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = level >= NVML_TOPOLOGY_NODE ? (unsigned)physical_count() - 1 : 0;
    if (!devices || *count == 0) { *count = n; return NVML_SUCCESS; }
    if (*count < n) { *count = n; return NVML_ERROR_INSUFFICIENT_SIZE; }
    unsigned k = 0;
    for (int d = 0; d < physical_count() && k < n; d++)
        if (d != dev) devices[k++] = handle_of(d);
    *count = k;
    return NVML_SUCCESS;
}

DEVICE_VALUE(nvmlDeviceGetNumaNodeId, unsigned int, 0)

/* The CPUs this process may run on: whatever the host is, binding to them is always possible. */
static nvmlReturn_t cpu_affinity(unsigned int size, unsigned long *set) {
    if (!set || !size) return NVML_ERROR_INVALID_ARGUMENT;
    memset(set, 0, size * sizeof *set);
    cpu_set_t cs;
    CPU_ZERO(&cs);
    if (sched_getaffinity(0, sizeof cs, &cs) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long c = 0; c < n && c < CPU_SETSIZE; c++) CPU_SET(c, &cs);
    }
    const unsigned bits = 8 * sizeof *set;
    for (unsigned c = 0; c < CPU_SETSIZE && c / bits < size; c++)
        if (CPU_ISSET(c, &cs)) set[c / bits] |= 1ul << (c % bits);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t device, unsigned int cpuSetSize, unsigned long *cpuSet) {
    API();
    DEVICE(device, dev);
    (void)dev;
    return cpu_affinity(cpuSetSize, cpuSet);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinityWithinScope(nvmlDevice_t device, unsigned int cpuSetSize,
                                                           unsigned long *cpuSet, nvmlAffinityScope_t scope) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (scope != NVML_AFFINITY_SCOPE_NODE && scope != NVML_AFFINITY_SCOPE_SOCKET) return NVML_ERROR_INVALID_ARGUMENT;
    return cpu_affinity(cpuSetSize, cpuSet);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryAffinity(nvmlDevice_t device, unsigned int nodeSetSize,
                                                   unsigned long *nodeSet, nvmlAffinityScope_t scope) {
    API();
    DEVICE(device, dev);
    (void)dev;
    (void)scope;
    if (!nodeSet || !nodeSetSize) return NVML_ERROR_INVALID_ARGUMENT;
    memset(nodeSet, 0, nodeSetSize * sizeof *nodeSet);
    nodeSet[0] = 1;   /* NUMA node 0 */
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceSetCpuAffinity(nvmlDevice_t device) {
    API();
    DEVICE(device, dev);
    (void)dev;
    return NVML_SUCCESS;   /* the process may already run on every CPU we report */
}

RV_EXPORT nvmlReturn_t nvmlDeviceClearCpuAffinity(nvmlDevice_t device) {
    API();
    DEVICE(device, dev);
    (void)dev;
    return NVML_SUCCESS;
}

/* NVLink links of a device; with one GPU nothing is connected (links down). */
#define LINK(device, dev, link)                                        \
    DEVICE(device, dev);                                               \
    if (nvlinks() == 0) return NVML_ERROR_NOT_SUPPORTED;               \
    if ((int)(link) >= nvlinks()) return NVML_ERROR_INVALID_ARGUMENT

RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned int link, nvmlEnableState_t *isActive) {
    API();
    LINK(device, dev, link);
    (void)dev;
    if (!isActive) return NVML_ERROR_INVALID_ARGUMENT;
    *isActive = physical_count() > 1 ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t device, unsigned int link, unsigned int *version) {
    API();
    LINK(device, dev, link);
    (void)dev;
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    *version = (unsigned)nvlink_version();
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkCapability(nvmlDevice_t device, unsigned int link,
                                                     nvmlNvLinkCapability_t capability, unsigned int *capResult) {
    API();
    LINK(device, dev, link);
    (void)dev;
    if (!capResult) return NVML_ERROR_INVALID_ARGUMENT;
    switch (capability) {
    case NVML_NVLINK_CAP_P2P_SUPPORTED:
    case NVML_NVLINK_CAP_P2P_ATOMICS:
    case NVML_NVLINK_CAP_VALID: *capResult = 1; break;
    default: *capResult = 0; break;
    }
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t device, unsigned int link,
                                                           nvmlIntNvLinkDeviceType_t *type) {
    API();
    LINK(device, dev, link);
    (void)dev;
    if (!type) return NVML_ERROR_INVALID_ARGUMENT;
    *type = NVML_NVLINK_DEVICE_TYPE_SWITCH;
    return NVML_SUCCESS;
}

/* Links end at NVSwitches (4 of them, as on HGX H100: links spread round-robin). */
static nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2_impl(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci) {
    LINK(device, dev, link);
    (void)dev;
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    pci->domain = 0;
    pci->bus = 0xc0 + link % 4;
    pci->device = 0;
    pci->pciDeviceId = 0x22a310de;   /* NVSwitch (third generation) */
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", 0u, pci->bus, 0u);
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.0", 0u, pci->bus, 0u);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci) {
    API();
    return nvmlDeviceGetNvLinkRemotePciInfo_v2_impl(device, link, pci);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci) {
    API();
    return nvmlDeviceGetNvLinkRemotePciInfo_v2_impl(device, link, pci);
}

/* ---------- modes ---------- */

#define ENABLE_QUERY(fn, value)                                               \
    RV_EXPORT nvmlReturn_t fn(nvmlDevice_t device, nvmlEnableState_t *mode) { \
        API();                                                                \
        DEVICE(device, dev);                                                  \
        (void)dev;                                                            \
        if (!mode) return NVML_ERROR_INVALID_ARGUMENT;                        \
        *mode = (value);                                                      \
        return NVML_SUCCESS;                                                  \
    }
ENABLE_QUERY(nvmlDeviceGetPersistenceMode, NVML_FEATURE_ENABLED)
ENABLE_QUERY(nvmlDeviceGetDisplayMode, NVML_FEATURE_DISABLED)
ENABLE_QUERY(nvmlDeviceGetDisplayActive, NVML_FEATURE_DISABLED)
ENABLE_QUERY(nvmlDeviceGetPowerManagementMode, NVML_FEATURE_ENABLED)
ENABLE_QUERY(nvmlDeviceGetAccountingMode, NVML_FEATURE_DISABLED)

RV_EXPORT nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current, nvmlEnableState_t *pending) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    *current = *pending = NVML_FEATURE_ENABLED;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
    if (cc_major() < 8) return NVML_ERROR_NOT_SUPPORTED;
    *currentMode = *pendingMode = NVML_DEVICE_MIG_DISABLE;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (cc_major() < 8) return NVML_ERROR_NOT_SUPPORTED;
    *count = 7;
    return NVML_SUCCESS;
}

DEVICE_VALUE(nvmlDeviceIsMigDeviceHandle, unsigned int, 0)

DEVICE_VALUE(nvmlDeviceGetComputeMode, nvmlComputeMode_t, NVML_COMPUTEMODE_DEFAULT)

DEVICE_VALUE(nvmlDeviceGetVirtualizationMode, nvmlGpuVirtualizationMode_t, NVML_GPU_VIRTUALIZATION_MODE_NONE)

static nvmlReturn_t nvmlDeviceGetPerformanceState_impl(nvmlDevice_t device, nvmlPstates_t *pState) {
    DEVICE(device, dev);
    (void)dev;
    if (!pState) return NVML_ERROR_INVALID_ARGUMENT;
    *pState = NVML_PSTATE_0;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState) {
    API();
    return nvmlDeviceGetPerformanceState_impl(device, pState);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetPowerState(nvmlDevice_t device, nvmlPstates_t *pState) {
    API();
    return nvmlDeviceGetPerformanceState_impl(device, pState);
}

/* ---------- clocks, power, thermals, utilization ---------- */

static nvmlReturn_t nvmlDeviceGetMaxClockInfo_impl(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    DEVICE(device, dev);
    (void)dev;
    if (!clock || (unsigned)type >= NVML_CLOCK_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    *clock = clock_mhz(type);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    API();
    return nvmlDeviceGetMaxClockInfo_impl(device, type, clock);
}

/* A GPU of a serving deployment runs boosted: current clocks are the maximum ones. */
RV_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    API();
    return nvmlDeviceGetMaxClockInfo_impl(device, type, clock);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetClock(nvmlDevice_t device, nvmlClockType_t type, nvmlClockId_t id, unsigned int *mhz) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!mhz || (unsigned)type >= NVML_CLOCK_COUNT || (unsigned)id >= NVML_CLOCK_ID_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    *mhz = clock_mhz(type);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    API();
    return nvmlDeviceGetMaxClockInfo_impl(device, type, clock);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    API();
    return nvmlDeviceGetMaxClockInfo_impl(device, type, clock);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetMaxCustomerBoostClock(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    API();
    return nvmlDeviceGetMaxClockInfo_impl(device, type, clock);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetSupportedMemoryClocks(nvmlDevice_t device, unsigned int *count, unsigned int *clocks) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (!clocks || *count < 1) { *count = 1; return NVML_ERROR_INSUFFICIENT_SIZE; }
    clocks[0] = (unsigned)mem_clock_mhz();
    *count = 1;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetSupportedGraphicsClocks(nvmlDevice_t device, unsigned int memoryClockMHz,
                                                            unsigned int *count, unsigned int *clocks) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    if (memoryClockMHz != (unsigned)mem_clock_mhz()) return NVML_ERROR_NOT_FOUND;
    if (!clocks || *count < 1) { *count = 1; return NVML_ERROR_INSUFFICIENT_SIZE; }
    clocks[0] = (unsigned)sm_clock_mhz();
    *count = 1;
    return NVML_SUCCESS;
}

static nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons_impl(nvmlDevice_t device, unsigned long long *reasons) {
    DEVICE(device, dev);
    (void)dev;
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    *reasons = 0;   /* running at full clocks */
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
    API();
    return nvmlDeviceGetCurrentClocksEventReasons_impl(device, reasons);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons) {
    API();
    return nvmlDeviceGetCurrentClocksEventReasons_impl(device, reasons);
}

static nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons_impl(nvmlDevice_t device, unsigned long long *reasons) {
    DEVICE(device, dev);
    (void)dev;
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    *reasons = nvmlClocksEventReasonAll;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
    API();
    return nvmlDeviceGetSupportedClocksEventReasons_impl(device, reasons);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons) {
    API();
    return nvmlDeviceGetSupportedClocksEventReasons_impl(device, reasons);
}

#define UINT_QUERY(fn, value)                                           \
    RV_EXPORT nvmlReturn_t fn(nvmlDevice_t device, unsigned int *out) { \
        API();                                                          \
        DEVICE(device, dev);                                            \
        (void)dev;                                                      \
        if (!out) return NVML_ERROR_INVALID_ARGUMENT;                   \
        *out = (value);                                                 \
        return NVML_SUCCESS;                                            \
    }
UINT_QUERY(nvmlDeviceGetPowerManagementLimit, power_limit_mw())
UINT_QUERY(nvmlDeviceGetPowerManagementDefaultLimit, power_limit_mw())
UINT_QUERY(nvmlDeviceGetEnforcedPowerLimit, power_limit_mw())
UINT_QUERY(nvmlDeviceGetPowerUsage, IDLE_POWER_MW)   /* milliwatts; no activity model yet */

RV_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned int *minLimit,
                                                                    unsigned int *maxLimit) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!minLimit || !maxLimit) return NVML_ERROR_INVALID_ARGUMENT;
    *minLimit = power_limit_mw() * 2 / 7;   /* H100 SXM: 200 W .. 700 W */
    *maxLimit = power_limit_mw();
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!energy) return NVML_ERROR_INVALID_ARGUMENT;
    rv_ns now = rv_host_now();
    *energy = (unsigned long long)((double)(now > 0 ? now : 0) * IDLE_POWER_MW / 1e9);   /* mJ since the clock's origin */
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensor, unsigned int *temp) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!temp || sensor != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
    *temp = TEMPERATURE_C;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device, nvmlTemperatureThresholds_t type,
                                                         unsigned int *temp) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!temp) return NVML_ERROR_INVALID_ARGUMENT;
    switch (type) {   /* H100 SXM */
    case NVML_TEMPERATURE_THRESHOLD_SHUTDOWN: *temp = 92; break;
    case NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: *temp = 89; break;
    case NVML_TEMPERATURE_THRESHOLD_MEM_MAX: *temp = 95; break;
    case NVML_TEMPERATURE_THRESHOLD_GPU_MAX: *temp = 87; break;
    default: return NVML_ERROR_NOT_SUPPORTED;
    }
    return NVML_SUCCESS;
}

/* Zero: no activity model yet (the core could report busy time per device from its timeline). */
RV_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *u) {
    API();
    DEVICE(device, dev);
    (void)dev;
    if (!u) return NVML_ERROR_INVALID_ARGUMENT;
    u->gpu = 0;
    u->memory = 0;
    return NVML_SUCCESS;
}

static nvmlReturn_t nvmlDeviceGetEncoderUtilization_impl(nvmlDevice_t device, unsigned int *util, unsigned int *periodUs) {
    DEVICE(device, dev);
    (void)dev;
    if (!util || !periodUs) return NVML_ERROR_INVALID_ARGUMENT;
    *util = 0;
    *periodUs = 167000;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *util, unsigned int *periodUs) {
    API();
    return nvmlDeviceGetEncoderUtilization_impl(device, util, periodUs);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *util, unsigned int *periodUs) {
    API();
    return nvmlDeviceGetEncoderUtilization_impl(device, util, periodUs);
}

/* ---------- events: supported, never raised ---------- */

#define EVENTSET_MAGIC 0x6e764553U

DEVICE_VALUE(nvmlDeviceGetSupportedEventTypes, unsigned long long, nvmlEventTypeSingleBitEccError | nvmlEventTypeDoubleBitEccError | nvmlEventTypePState | nvmlEventTypeXidCriticalError | nvmlEventTypeClock | nvmlEventTypeMigConfigChange)

RV_EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    API();
    if (!inited()) return NVML_ERROR_UNINITIALIZED;
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    *set = calloc(1, sizeof **set);
    (*set)->magic = EVENTSET_MAGIC;
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    API();
    if (!set || set->magic != EVENTSET_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    set->magic = 0;
    free(set);
    return NVML_SUCCESS;
}

RV_EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set) {
    API();
    DEVICE(device, dev);
    (void)dev;
    (void)eventTypes;
    if (!set || set->magic != EVENTSET_MAGIC) return NVML_ERROR_INVALID_ARGUMENT;
    return NVML_SUCCESS;
}

/* Nothing ever happens to a virtual GPU: a wait times out after its timeout (a sleep, which the
 * timekeeper turns into virtual time). */
static nvmlReturn_t nvmlEventSetWait_v2_impl(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    if (!set || set->magic != EVENTSET_MAGIC || !data) return NVML_ERROR_INVALID_ARGUMENT;
    struct timespec ts = {timeoutms / 1000, (long)(timeoutms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
    return NVML_ERROR_TIMEOUT;
}

RV_EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    API();
    return nvmlEventSetWait_v2_impl(set, data, timeoutms);
}

RV_EXPORT nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    API();
    return nvmlEventSetWait_v2_impl(set, data, timeoutms);
}

/* ---------- what an SXM board does not have: answered by hand (a stub would log and, in strict
 * mode, abort, while "not supported" is the real board's answer) ---------- */

static nvmlReturn_t nvmlDeviceGetFanSpeed_impl(nvmlDevice_t device, unsigned int *speed) {
    DEVICE(device, dev);
    (void)dev;
    (void)speed;
    return NVML_ERROR_NOT_SUPPORTED;
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed) {
    API();
    return nvmlDeviceGetFanSpeed_impl(device, speed);
}

RV_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned int fan, unsigned int *speed) {
    API();
    (void)fan;
    return nvmlDeviceGetFanSpeed_impl(device, speed);
}

DEVICE_VALUE(nvmlDeviceGetNumFans, unsigned int, 0)
