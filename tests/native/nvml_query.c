/* NVML as a management tool sees the virtual machine: prints `CHECK name value` lines.
 * Types from the interposer's ABI header (no nvml.h ships with the toolkit here); the pynvml test
 * checks the same layouts against nvidia-ml-py's independent ctypes definitions. */
#include "abi/nvml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
const char *nvmlErrorString(nvmlReturn_t);
nvmlReturn_t nvmlSystemGetDriverVersion(char *, unsigned);
nvmlReturn_t nvmlSystemGetNVMLVersion(char *, unsigned);
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned, nvmlDevice_t *);
nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *, nvmlDevice_t *);
nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *, nvmlDevice_t *);
nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t, unsigned *);
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t, char *, unsigned);
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t, char *, unsigned);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t, nvmlMemory_t *);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t, nvmlMemory_v2_t *);
nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t, int *, int *);
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t, nvmlPciInfo_t *);
nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t, unsigned *);
nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t, nvmlDevice_t, nvmlGpuP2PCapsIndex_t, nvmlGpuP2PStatus_t *);
nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t, nvmlDevice_t, nvmlGpuTopologyLevel_t *);
nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t, unsigned, nvmlEnableState_t *);
nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t, unsigned *);
nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t, unsigned, unsigned long *);
nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t, nvmlClockType_t, unsigned *);
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t, nvmlClockType_t, unsigned *);
nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t, unsigned *);
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t, unsigned *);
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t, nvmlTemperatureSensors_t, unsigned *);
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t, nvmlUtilization_t *);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t, unsigned *, nvmlProcessInfo_t *);
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t, unsigned *, unsigned *);
nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t, nvmlBrandType_t *);
nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t, nvmlDeviceArchitecture_t *);
nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t, nvmlEnableState_t *);
nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t, unsigned long long *);
nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t, unsigned *);

#define CHECK_RC(x)                                                                  \
    do {                                                                             \
        nvmlReturn_t r_ = (x);                                                       \
        if (r_ != NVML_SUCCESS) {                                                    \
            fprintf(stderr, "%s failed: %d %s\n", #x, (int)r_, nvmlErrorString(r_)); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

int main(void) {
    unsigned n = 0;
    printf("CHECK uninitialized %d\n", (int)nvmlDeviceGetCount_v2(&n));
    CHECK_RC(nvmlInit_v2());
    char buf[128];
    CHECK_RC(nvmlSystemGetDriverVersion(buf, sizeof buf));
    printf("CHECK driver %s\n", buf);
    CHECK_RC(nvmlSystemGetNVMLVersion(buf, sizeof buf));
    printf("CHECK nvml_version %s\n", buf);
    int cuda = 0;
    CHECK_RC(nvmlSystemGetCudaDriverVersion_v2(&cuda));
    printf("CHECK cuda_driver %d\n", cuda);
    CHECK_RC(nvmlDeviceGetCount_v2(&n));
    printf("CHECK count %u\n", n);
    printf("CHECK bad_index %d\n", (int)nvmlDeviceGetHandleByIndex_v2(n, &(nvmlDevice_t){0}));
    char small[8];
    nvmlDevice_t d0;
    CHECK_RC(nvmlDeviceGetHandleByIndex_v2(0, &d0));
    printf("CHECK small_buffer %d\n", (int)nvmlDeviceGetName(d0, small, sizeof small));
    for (unsigned i = 0; i < n; i++) {
        nvmlDevice_t d;
        CHECK_RC(nvmlDeviceGetHandleByIndex_v2(i, &d));
        unsigned idx;
        CHECK_RC(nvmlDeviceGetIndex(d, &idx));
        printf("CHECK index%u %u\n", i, idx);
        CHECK_RC(nvmlDeviceGetName(d, buf, sizeof buf));
        printf("CHECK name%u %s\n", i, buf);
        char uuid[NVML_DEVICE_UUID_BUFFER_SIZE];
        CHECK_RC(nvmlDeviceGetUUID(d, uuid, sizeof uuid));
        printf("CHECK uuid%u %s\n", i, uuid);
        nvmlDevice_t by;
        CHECK_RC(nvmlDeviceGetHandleByUUID(uuid, &by));
        printf("CHECK by_uuid%u %d\n", i, by == d);
        nvmlPciInfo_t pci;
        CHECK_RC(nvmlDeviceGetPciInfo_v3(d, &pci));
        printf("CHECK bus_id%u %s\n", i, pci.busId);
        printf("CHECK bus_id_legacy%u %s\n", i, pci.busIdLegacy);
        printf("CHECK pci_device_id%u 0x%08x\n", i, pci.pciDeviceId);
        CHECK_RC(nvmlDeviceGetHandleByPciBusId_v2(pci.busId, &by));
        printf("CHECK by_bus_id%u %d\n", i, by == d);
        unsigned minor;
        CHECK_RC(nvmlDeviceGetMinorNumber(d, &minor));
        printf("CHECK minor%u %u\n", i, minor);
        nvmlMemory_t m;
        CHECK_RC(nvmlDeviceGetMemoryInfo(d, &m));
        printf("CHECK mem_total%u %llu\nCHECK mem_free%u %llu\nCHECK mem_used%u %llu\n", i, m.total, i, m.free, i, m.used);
        nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
        CHECK_RC(nvmlDeviceGetMemoryInfo_v2(d, &m2));
        printf("CHECK mem2_total%u %llu\nCHECK mem2_reserved%u %llu\nCHECK mem2_free%u %llu\nCHECK mem2_used%u %llu\n",
               i, m2.total, i, m2.reserved, i, m2.free, i, m2.used);
    }
    nvmlMemory_v2_t bad = {.version = 1};
    printf("CHECK mem2_bad_version %d\n", (int)nvmlDeviceGetMemoryInfo_v2(d0, &bad));

    int major, minor;
    CHECK_RC(nvmlDeviceGetCudaComputeCapability(d0, &major, &minor));
    printf("CHECK cc %d.%d\n", major, minor);
    nvmlDeviceArchitecture_t arch;
    CHECK_RC(nvmlDeviceGetArchitecture(d0, &arch));
    printf("CHECK arch %u\n", arch);
    nvmlBrandType_t brand;
    CHECK_RC(nvmlDeviceGetBrand(d0, &brand));
    printf("CHECK brand %d\n", (int)brand);
    if (n > 1) {
        nvmlDevice_t d1;
        CHECK_RC(nvmlDeviceGetHandleByIndex_v2(1, &d1));
        nvmlGpuP2PStatus_t st;
        CHECK_RC(nvmlDeviceGetP2PStatus(d0, d1, NVML_P2P_CAPS_INDEX_NVLINK, &st));
        printf("CHECK p2p_nvlink %d\n", (int)st);
        nvmlGpuTopologyLevel_t lvl;
        CHECK_RC(nvmlDeviceGetTopologyCommonAncestor(d0, d1, &lvl));
        printf("CHECK topology %d\n", (int)lvl);
    }
    nvmlEnableState_t on;
    CHECK_RC(nvmlDeviceGetNvLinkState(d0, 0, &on));
    printf("CHECK nvlink0 %d\n", (int)on);
    printf("CHECK nvlink_bad %d\n", (int)nvmlDeviceGetNvLinkState(d0, 99, &on));
    unsigned v;
    CHECK_RC(nvmlDeviceGetNumaNodeId(d0, &v));
    printf("CHECK numa %u\n", v);
    unsigned long aff[4] = {0};
    CHECK_RC(nvmlDeviceGetCpuAffinity(d0, 4, aff));
    printf("CHECK affinity_nonzero %d\n", aff[0] != 0);
    CHECK_RC(nvmlDeviceGetMaxClockInfo(d0, NVML_CLOCK_SM, &v));
    printf("CHECK max_sm_clock %u\n", v);
    CHECK_RC(nvmlDeviceGetMaxClockInfo(d0, NVML_CLOCK_GRAPHICS, &v));
    printf("CHECK max_graphics_clock %u\n", v);
    CHECK_RC(nvmlDeviceGetMaxClockInfo(d0, NVML_CLOCK_MEM, &v));
    printf("CHECK max_mem_clock %u\n", v);
    CHECK_RC(nvmlDeviceGetClockInfo(d0, NVML_CLOCK_SM, &v));
    printf("CHECK sm_clock %u\n", v);
    CHECK_RC(nvmlDeviceGetPowerManagementLimit(d0, &v));
    printf("CHECK power_limit %u\n", v);
    CHECK_RC(nvmlDeviceGetPowerUsage(d0, &v));
    printf("CHECK power_usage_ok %d\n", v > 0 && v < 700000);
    CHECK_RC(nvmlDeviceGetTemperature(d0, NVML_TEMPERATURE_GPU, &v));
    printf("CHECK temperature_ok %d\n", v > 20 && v < 90);
    nvmlUtilization_t u;
    CHECK_RC(nvmlDeviceGetUtilizationRates(d0, &u));
    printf("CHECK utilization %u %u\n", u.gpu, u.memory);
    unsigned count = 0;
    CHECK_RC(nvmlDeviceGetComputeRunningProcesses_v3(d0, &count, NULL));
    printf("CHECK processes %u\n", count);
    unsigned cur = 9, pend = 9;
    CHECK_RC(nvmlDeviceGetMigMode(d0, &cur, &pend));
    printf("CHECK mig %u %u\n", cur, pend);
    CHECK_RC(nvmlDeviceGetPersistenceMode(d0, &on));
    printf("CHECK persistence %d\n", (int)on);
    unsigned long long ev;
    CHECK_RC(nvmlDeviceGetSupportedEventTypes(d0, &ev));
    printf("CHECK events_nonzero %d\n", ev != 0);
    printf("CHECK fan %d\n", (int)nvmlDeviceGetFanSpeed(d0, &v));   /* SXM: no fans (stub) */
    CHECK_RC(nvmlShutdown());
    printf("CHECK after_shutdown %d\n", (int)nvmlDeviceGetCount_v2(&n));
    printf("CHECK shutdown_twice %d\n", (int)nvmlShutdown());
    printf("CHECK done 1\n");
    return 0;
}
