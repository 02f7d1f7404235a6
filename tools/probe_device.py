"""Dump what a real GPU reports (runtime + driver attributes, cudaDeviceProp bytes, NVML, torch props).

Run on a real GPU host; output JSON feeds predictors/hardware/*.json.
"""
import ctypes, json, os, sys, time

out = {}
import torch
torch.cuda.init()
rt = None
for cand in ["libcudart.so.13", "libcudart.so.12"]:
    try:
        rt = ctypes.CDLL(cand); out["cudart"] = cand; break
    except OSError:
        pass
if rt is None:
    import glob
    p = glob.glob(os.path.join(os.path.dirname(torch.__file__), "..", "nvidia", "**", "libcudart.so.*"), recursive=True)
    rt = ctypes.CDLL(p[0]); out["cudart"] = p[0]
drv = ctypes.CDLL("libcuda.so.1")
v = ctypes.c_int()
rt.cudaRuntimeGetVersion(ctypes.byref(v)); out["runtime_version"] = v.value
rt.cudaDriverGetVersion(ctypes.byref(v)); out["driver_version"] = v.value
rt.cudaGetDeviceCount(ctypes.byref(v)); out["device_count"] = v.value
attrs = {}
for a in range(0, 400):
    r = rt.cudaDeviceGetAttribute(ctypes.byref(v), a, 0)
    if r == 0:
        attrs[a] = v.value
    rt.cudaGetLastError()
out["runtime_attrs"] = attrs
drv.cuInit(0)
dattrs = {}
for a in range(0, 400):
    r = drv.cuDeviceGetAttribute(ctypes.byref(v), a, 0)
    if r == 0:
        dattrs[a] = v.value
out["driver_attrs"] = dattrs
buf = ctypes.create_string_buffer(8192)
r = rt.cudaGetDeviceProperties(buf, 0)
out["prop_rc"] = r
out["prop_hex"] = buf.raw.hex()
free, total = ctypes.c_size_t(), ctypes.c_size_t()
rt.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total))
out["mem_get_info_after_init"] = [free.value, total.value]
out["torch_mem_get_info"] = list(torch.cuda.mem_get_info(0))
p = torch.cuda.get_device_properties(0)
out["torch_props"] = {k: (str(getattr(p, k)) if not isinstance(getattr(p, k), (int, float, str, bool)) else getattr(p, k)) for k in dir(p) if not k.startswith("_")}
out["torch_version"] = torch.__version__
out["torch_cuda"] = torch.version.cuda
# driver name / uuid / total mem
name = ctypes.create_string_buffer(256)
dev = ctypes.c_int()
drv.cuDeviceGet(ctypes.byref(dev), 0)
drv.cuDeviceGetName(name, 256, dev); out["cu_name"] = name.value.decode()
tm = ctypes.c_size_t(); drv.cuDeviceTotalMem_v2(ctypes.byref(tm), dev); out["cu_total_mem"] = tm.value
uu = ctypes.create_string_buffer(16); drv.cuDeviceGetUuid_v2(uu, dev); out["cu_uuid"] = uu.raw.hex()
# peer access
can = ctypes.c_int(); 
# NVML
try:
    nv = ctypes.CDLL("libnvidia-ml.so.1"); nv.nvmlInit_v2()
    h = ctypes.c_void_p(); nv.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(h))
    nb = ctypes.create_string_buffer(96); nv.nvmlDeviceGetName(h, nb, 96); out["nvml_name"] = nb.value.decode()
    class Mem(ctypes.Structure): _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]
    m = Mem(); nv.nvmlDeviceGetMemoryInfo(h, ctypes.byref(m)); out["nvml_mem"] = [m.total, m.free, m.used]
    mj, mn = ctypes.c_int(), ctypes.c_int(); nv.nvmlDeviceGetCudaComputeCapability(h, ctypes.byref(mj), ctypes.byref(mn)); out["nvml_cc"] = [mj.value, mn.value]
    dv = ctypes.create_string_buffer(96); nv.nvmlSystemGetDriverVersion(dv, 96); out["nvml_driver"] = dv.value.decode()
    cv = ctypes.c_int(); nv.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(cv)); out["nvml_cuda_driver"] = cv.value
    for clk, key in [(0, "graphics"), (1, "sm"), (2, "mem")]:
        c = ctypes.c_uint(); nv.nvmlDeviceGetMaxClockInfo(h, clk, ctypes.byref(c)); out[f"nvml_max_clock_{key}_mhz"] = c.value
    pw = ctypes.c_uint(); nv.nvmlDeviceGetPowerManagementLimit(h, ctypes.byref(pw)); out["nvml_power_limit_mw"] = pw.value
except Exception as e:
    out["nvml_error"] = repr(e)
rt.cudaGetLastError()
json.dump(out, open(os.path.join(sys.argv[1], "probe.json"), "w"), indent=1)
# launch/sync host costs (empty-ish kernel via torch)
x = torch.empty(1, device="cuda")
for _ in range(1000): x.add_(1)
torch.cuda.synchronize()
N = 20000
t = time.perf_counter()
for _ in range(N): x.add_(1)
t1 = time.perf_counter(); torch.cuda.synchronize(); t2 = time.perf_counter()
out["torch_add_launch_cpu_us"] = (t1 - t) / N * 1e6
s = []
for _ in range(200):
    a = time.perf_counter(); torch.cuda.synchronize(); s.append(time.perf_counter() - a)
s.sort(); out["idle_sync_us_median"] = s[100] * 1e6
json.dump(out, open(os.path.join(sys.argv[1], "probe.json"), "w"), indent=1)
print(json.dumps({k: out[k] for k in out if k not in ("prop_hex", "runtime_attrs", "driver_attrs")}, indent=1))
