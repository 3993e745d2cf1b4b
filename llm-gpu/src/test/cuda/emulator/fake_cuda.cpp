// A fake libcuda.so.1 that runs Isthmus's real kernels (src/main/cuda/kernels.cu) on the host, so the Java
// orchestration (CudaContext, CudaBackend, KernelArgs, launches) and the kernels' arithmetic are tested on
// machines without a GPU. Built and loaded by EmulatedDriver (src/test/java/.../EmulatedDriver.java):
//
//   g++ -O2 -shared -fPIC -std=c++20 -fvisibility=hidden -fcf-protection=none -Wl,-soname,libcuda.so.1 fake_cuda.cpp
//
// Exports exactly the driver functions the generated bindings use (jextract/cuda-driver.args) plus a few
// isthmus_emu_* functions for tests; everything else is hidden, so kernels named `add` or `rope` cannot
// interpose on other libraries' symbols. Device memory is host memory (a CUdeviceptr is an address), a
// launch runs the whole grid before it returns (cuda_host.h), and there is one device with one primary
// context. Built with -DISTHMUS_EMU_CUDA_H and cuda.h on the include path, the definitions below are
// checked against the toolkit's prototypes (EmulatorSourcesTest).
// Standard headers first: cuda_host.h's dialect macros are not meant for them.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

#if defined(ISTHMUS_EMU_CUDA_H)
#pragma GCC visibility push(default)
#include <cuda.h>
#pragma GCC visibility pop
#else
// The subset of cuda.h (CUDA 13) the functions below use, with cuda.h's names and values.
typedef enum cudaError_enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
} CUresult;
typedef enum CUdevice_attribute_enum {
    CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
} CUdevice_attribute;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
#endif

#include "cuda_host.h"
#include "../../../main/cuda/kernels.cu"
#include "selftest_kernels.cu"


namespace isthmus_emu {

// A kernel with its parameter types erased: run() unpacks `void **kernelParams` (one pointer per parameter,
// each to the value) into a call of the kernel.
struct Kernel {
    const char *name;
    void (*fn)();
    int arity;
    void (*run)(void (*fn)(), void **params);
    const bool *pointer; // pointer[i]: parameter i is a device pointer
};

template <class T>
T param(void *slot) {
    T v;
    memcpy(&v, slot, sizeof v); // the slots need not be aligned for T
    return v;
}

template <class... A>
struct Signature {
    template <size_t... I>
    static void call(void (*fn)(), void **params, std::index_sequence<I...>) {
        reinterpret_cast<void (*)(A...)>(fn)(param<A>(params[I])...);
    }
    static void run(void (*fn)(), void **params) {
        call(fn, params, std::index_sequence_for<A...>{});
    }
    static constexpr bool pointer[sizeof...(A) + 1] = {std::is_pointer_v<A>..., false};
};

template <class... A>
Kernel emulated(const char *name, void (*k)(A...)) {
    return Kernel{name, reinterpret_cast<void (*)()>(k), (int)sizeof...(A), &Signature<A...>::run,
                  Signature<A...>::pointer};
}

} // namespace isthmus_emu

#define EMULATED(kernel) isthmus_emu::emulated(#kernel, &kernel),

// Every extern "C" __global__ of kernels.cu. Add a kernel here when adding it there: EmulatorSourcesTest
// fails while this list and the .entry names of the shipped PTX differ.
static const isthmus_emu::Kernel KERNELS[] = {
    EMULATED(matvec_f32) EMULATED(matvecs_f32) EMULATED(matmul_f32)
    EMULATED(matvec_f16) EMULATED(matvecs_f16) EMULATED(matmul_f16)
    EMULATED(matvec_q4_0) EMULATED(matvecs_q4_0) EMULATED(matmul_q4_0)
    EMULATED(matvec_q8x_q4_0) EMULATED(matvecs_q8x_q4_0)
    EMULATED(matvec_q8_0) EMULATED(matvecs_q8_0) EMULATED(matmul_q8_0)
    EMULATED(matvec_q4_1) EMULATED(matvecs_q4_1) EMULATED(matmul_q4_1)
    EMULATED(matvec_q8x_q4_1) EMULATED(matvecs_q8x_q4_1)
    EMULATED(matvec_q5_0) EMULATED(matvecs_q5_0) EMULATED(matmul_q5_0)
    EMULATED(matvec_q8x_q5_0) EMULATED(matvecs_q8x_q5_0)
    EMULATED(matvec_q5_1) EMULATED(matvecs_q5_1) EMULATED(matmul_q5_1)
    EMULATED(matvec_q8x_q5_1) EMULATED(matvecs_q8x_q5_1)
    EMULATED(matvec_iq4_nl) EMULATED(matvecs_iq4_nl) EMULATED(matmul_iq4_nl)
    EMULATED(matvec_q8x_iq4_nl) EMULATED(matvecs_q8x_iq4_nl)
    EMULATED(matvec_q8x_q8_0) EMULATED(matvecs_q8x_q8_0)
    EMULATED(matvec_q2_k) EMULATED(matvecs_q2_k) EMULATED(matmul_q2_k)
    EMULATED(matvec_q8x_q2_k) EMULATED(matvecs_q8x_q2_k)
    EMULATED(matvec_q3_k) EMULATED(matvecs_q3_k) EMULATED(matmul_q3_k)
    EMULATED(matvec_q8x_q3_k) EMULATED(matvecs_q8x_q3_k)
    EMULATED(matvec_q4_k) EMULATED(matvecs_q4_k) EMULATED(matmul_q4_k)
    EMULATED(matvec_q8x_q4_k) EMULATED(matvecs_q8x_q4_k)
    EMULATED(matvec_q5_k) EMULATED(matvecs_q5_k) EMULATED(matmul_q5_k)
    EMULATED(matvec_q8x_q5_k) EMULATED(matvecs_q8x_q5_k)
    EMULATED(matvec_q6_k) EMULATED(matvecs_q6_k) EMULATED(matmul_q6_k)
    EMULATED(matvec_q8x_q6_k) EMULATED(matvecs_q8x_q6_k)
    EMULATED(softmax_rows)
    EMULATED(attention)
    EMULATED(gelu)
    EMULATED(add)
    EMULATED(add_bias)
    EMULATED(gelu_half)
    EMULATED(round_f16)
    EMULATED(round_bf16)
    EMULATED(round_q8_0)
    EMULATED(round_q8_k)
    EMULATED(sum_splits)
    EMULATED(rms_norm_round)
    EMULATED(layer_norm_round)
    EMULATED(qkv_rope)
    EMULATED(silu_mul_round)
};

// The emulator's own test kernels (selftest_kernels.cu), found in modules whose PTX text names them.
static const isthmus_emu::Kernel TEST_KERNELS[] = {
    EMULATED(emu_block_sum)
    EMULATED(emu_early_return)
    EMULATED(emu_shuffles)
    EMULATED(emu_thread_ids)
    EMULATED(emu_deadlock)
    EMULATED(emu_shuffle_from_returned)
    EMULATED(emu_trap)
};

// ---- driver state --------------------------------------------------------------------------------------

struct CUctx_st {
    int retained = 0;
};

struct CUfunc_st {
    const isthmus_emu::Kernel *kernel;
    CUmodule module;
};

struct CUmod_st {
    std::set<std::string> entries;
    std::map<std::string, std::unique_ptr<CUfunc_st>> functions;
};

namespace isthmus_emu {

constexpr int kDriverVersion = 13000;
constexpr const char *kDeviceName = "Isthmus host emulator";
// Compute capability 9.0 (PtxCatalog then loads compute_75); one multiprocessor, as blocks run one at a time.
constexpr int kMajor = 9;
constexpr int kMinor = 0;
constexpr int kMultiprocessors = 1;
// The emulated device's memory: allocations past it fail with CUDA_ERROR_OUT_OF_MEMORY.
constexpr unsigned long long kDeviceBytes = 4ull << 30;
constexpr size_t kAlignment = 256;
// Fresh device memory is filled with 0xff bytes (NaN floats, -1 ints), as stale as a GPU's: a kernel that
// reads what nobody wrote shows it in its results.
constexpr int kPoison = 0xff;

std::mutex lock;
bool initialized = false;
CUctx_st primary;
thread_local CUcontext current = nullptr; // cuCtxSetCurrent binds per thread, as in CUDA
std::map<uintptr_t, size_t> allocations;  // base -> bytes
unsigned long long liveBytes = 0;
unsigned long long launches = 0;
std::set<CUmodule> modules;
std::set<CUfunction> functions;
CUresult lastCode = CUDA_SUCCESS;
std::string lastError;

// Records why the call failed (isthmus_emu_last_error; cuGetErrorString appends it) and returns `code`.
__attribute__((format(printf, 2, 3))) CUresult fail(CUresult code, const char *format, ...) {
    char buffer[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    lastCode = code;
    lastError = buffer;
    return code;
}

CUresult need_context() {
    if (!initialized) {
        return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
    }
    if (current == nullptr || current->retained == 0) {
        return fail(CUDA_ERROR_INVALID_CONTEXT,
                    current == nullptr ? "no current context on this thread (cuCtxSetCurrent)"
                                       : "the current context's primary context was released");
    }
    return CUDA_SUCCESS;
}

// The live allocation holding [p, p + bytes), if any (one past the end counts for empty ranges).
bool in_device_memory(uintptr_t p, size_t bytes) {
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) {
        return false;
    }
    --it;
    return p >= it->first && p - it->first <= it->second && bytes <= it->second - (p - it->first);
}

const char *error_name(CUresult code) {
    switch (code) {
        case CUDA_SUCCESS: return "CUDA_SUCCESS";
        case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
        case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
        case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
        case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
        case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
        case CUDA_ERROR_INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
        case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
        case CUDA_ERROR_INVALID_PTX: return "CUDA_ERROR_INVALID_PTX";
        case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
        case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
        case CUDA_ERROR_ILLEGAL_ADDRESS: return "CUDA_ERROR_ILLEGAL_ADDRESS";
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
        case CUDA_ERROR_LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
        case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
        default: return nullptr;
    }
}

// The driver's own texts for the codes above.
const char *error_text(CUresult code) {
    switch (code) {
        case CUDA_SUCCESS: return "no error";
        case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
        case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
        case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
        case CUDA_ERROR_NO_DEVICE: return "no CUDA-capable device is detected";
        case CUDA_ERROR_INVALID_DEVICE: return "invalid device ordinal";
        case CUDA_ERROR_INVALID_IMAGE: return "device kernel image is invalid";
        case CUDA_ERROR_INVALID_CONTEXT: return "invalid device context";
        case CUDA_ERROR_INVALID_PTX: return "a PTX JIT compilation failed";
        case CUDA_ERROR_INVALID_HANDLE: return "invalid resource handle";
        case CUDA_ERROR_NOT_FOUND: return "named symbol not found";
        case CUDA_ERROR_ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "too many resources requested for launch";
        case CUDA_ERROR_LAUNCH_FAILED: return "unspecified launch failure";
        case CUDA_ERROR_NOT_SUPPORTED: return "operation not supported";
        default: return nullptr;
    }
}

const Kernel *find_kernel(const std::string &name) {
    for (const Kernel &k : KERNELS) {
        if (name == k.name) {
            return &k;
        }
    }
    for (const Kernel &k : TEST_KERNELS) {
        if (name == k.name) {
            return &k;
        }
    }
    return nullptr;
}

// PTX is NUL-terminated text; its kernels are the identifiers after `.entry`.
constexpr size_t kMaxPtxBytes = 256u << 20;

CUresult parse_ptx(const char *text, std::set<std::string> &entries) {
    size_t n = 0;
    while (n < kMaxPtxBytes && text[n] != 0) {
        unsigned char c = (unsigned char)text[n];
        if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t')) {
            return fail(CUDA_ERROR_INVALID_IMAGE, "byte %zu of the image is 0x%02x: not PTX text (cubins and fatbins are "
                        "not emulated)", n, c);
        }
        n++;
    }
    if (n == kMaxPtxBytes) {
        return fail(CUDA_ERROR_INVALID_IMAGE, "no NUL terminator in the first %zu bytes of the image", kMaxPtxBytes);
    }
    std::string ptx(text, n);
    if (ptx.find(".version") == std::string::npos || ptx.find(".target") == std::string::npos) {
        return fail(CUDA_ERROR_INVALID_PTX, "the image has no .version or .target directive: not PTX");
    }
    for (size_t at = ptx.find(".entry"); at != std::string::npos; at = ptx.find(".entry", at + 6)) {
        size_t i = at + 6;
        while (i < n && (ptx[i] == ' ' || ptx[i] == '\t')) {
            i++;
        }
        size_t start = i;
        while (i < n && (isalnum((unsigned char)ptx[i]) || ptx[i] == '_' || ptx[i] == '$')) {
            i++;
        }
        if (i > start) {
            entries.insert(ptx.substr(start, i - start));
        }
    }
    return CUDA_SUCCESS;
}

struct Launch {
    const Kernel *kernel;
    void **params;
};

void run_thread(void *arg) {
    Launch *l = (Launch *)arg;
    l->kernel->run(l->kernel->fn, l->params);
}

// All kernel names of KERNELS, one per line (isthmus_emu_kernel_names).
std::string kernel_names() {
    std::string s;
    for (const Kernel &k : KERNELS) {
        s += k.name;
        s += '\n';
    }
    return s;
}

} // namespace isthmus_emu

using namespace isthmus_emu;

#define DRIVER_LOCK std::lock_guard<std::mutex> guard(isthmus_emu::lock)

// ---- the driver API ------------------------------------------------------------------------------------

#pragma GCC visibility push(default)
extern "C" {

CUresult cuGetErrorName(CUresult error, const char **pStr) {
    const char *name = error_name(error);
    if (pStr == nullptr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *pStr = name;
    return name == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

// The driver's text, followed by what the emulator knows about the last failure with this code.
CUresult cuGetErrorString(CUresult error, const char **pStr) {
    DRIVER_LOCK;
    const char *text = error_text(error);
    if (pStr == nullptr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (text == nullptr) {
        *pStr = nullptr;
        return CUDA_ERROR_INVALID_VALUE;
    }
    static std::string described;
    described = text;
    if (error == lastCode && !lastError.empty()) {
        described += " [emulator: " + lastError + "]";
    }
    *pStr = described.c_str();
    return CUDA_SUCCESS;
}

CUresult cuInit(unsigned int Flags) {
    DRIVER_LOCK;
    if (Flags != 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuInit flags must be 0, got %u", Flags);
    }
    initialized = true;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *driverVersion) {
    if (driverVersion == nullptr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *driverVersion = kDriverVersion;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count) {
    DRIVER_LOCK;
    if (!initialized) {
        return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
    }
    if (count == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "count is NULL");
    }
    *count = 1;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    DRIVER_LOCK;
    if (!initialized) {
        return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
    }
    if (device == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "device is NULL");
    }
    if (ordinal != 0) {
        return fail(CUDA_ERROR_INVALID_DEVICE, "device %d: the emulator has one device, 0", ordinal);
    }
    *device = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    DRIVER_LOCK;
    if (dev != 0) {
        return fail(CUDA_ERROR_INVALID_DEVICE, "device %d", dev);
    }
    if (name == nullptr || len <= 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "name buffer is NULL or empty");
    }
    snprintf(name, (size_t)len, "%s", kDeviceName);
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
    DRIVER_LOCK;
    if (dev != 0) {
        return fail(CUDA_ERROR_INVALID_DEVICE, "device %d", dev);
    }
    if (pi == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "pi is NULL");
    }
    switch (attrib) {
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = kMajor; return CUDA_SUCCESS;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = kMinor; return CUDA_SUCCESS;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = kMultiprocessors; return CUDA_SUCCESS;
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = kMaxThreads; return CUDA_SUCCESS;
        case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *pi = kWarp; return CUDA_SUCCESS;
        default: return fail(CUDA_ERROR_INVALID_VALUE, "device attribute %d is not emulated", (int)attrib);
    }
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    DRIVER_LOCK;
    if (dev != 0) {
        return fail(CUDA_ERROR_INVALID_DEVICE, "device %d", dev);
    }
    if (bytes == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "bytes is NULL");
    }
    *bytes = kDeviceBytes;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) {
    DRIVER_LOCK;
    if (!initialized) {
        return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
    }
    if (dev != 0) {
        return fail(CUDA_ERROR_INVALID_DEVICE, "device %d", dev);
    }
    if (pctx == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "pctx is NULL");
    }
    primary.retained++;
    *pctx = &primary;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    DRIVER_LOCK;
    if (dev != 0) {
        return fail(CUDA_ERROR_INVALID_DEVICE, "device %d", dev);
    }
    if (primary.retained == 0) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, "the primary context is not retained");
    }
    primary.retained--;
    return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
    DRIVER_LOCK;
    if (!initialized) {
        return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
    }
    if (ctx != nullptr && ctx != &primary) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, "%p is not the emulator's primary context", (void *)ctx);
    }
    current = ctx;
    return CUDA_SUCCESS;
}

// Launches finish before cuLaunchKernel returns, so there is nothing to wait for.
CUresult cuCtxSynchronize(void) {
    DRIVER_LOCK;
    return need_context();
}

CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (free == nullptr || total == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "free or total is NULL");
    }
    *free = kDeviceBytes - liveBytes;
    *total = kDeviceBytes;
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (dptr == nullptr || bytesize == 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "dptr is NULL or bytesize is 0");
    }
    if (bytesize > kDeviceBytes - liveBytes) {
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "%zu bytes requested, %llu of %llu free", bytesize,
                    kDeviceBytes - liveBytes, kDeviceBytes);
    }
    size_t rounded = (bytesize + kAlignment - 1) / kAlignment * kAlignment;
    void *p = aligned_alloc(kAlignment, rounded);
    if (p == nullptr) {
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "the host could not provide %zu bytes", rounded);
    }
    memset(p, kPoison, rounded);
    allocations[(uintptr_t)p] = bytesize;
    liveBytes += bytesize;
    *dptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr dptr) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (dptr == 0) {
        return CUDA_SUCCESS;
    }
    auto it = allocations.find((uintptr_t)dptr);
    if (it == allocations.end()) {
        return fail(CUDA_ERROR_INVALID_VALUE, "0x%llx is not the start of a live allocation", dptr);
    }
    liveBytes -= it->second;
    allocations.erase(it);
    free((void *)(uintptr_t)dptr);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (!in_device_memory((uintptr_t)dstDevice, ByteCount) || (srcHost == nullptr && ByteCount > 0)) {
        return fail(CUDA_ERROR_INVALID_VALUE, "copy of %zu bytes to 0x%llx: not inside one live allocation",
                    ByteCount, dstDevice);
    }
    memcpy((void *)(uintptr_t)dstDevice, srcHost, ByteCount);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (!in_device_memory((uintptr_t)srcDevice, ByteCount) || (dstHost == nullptr && ByteCount > 0)) {
        return fail(CUDA_ERROR_INVALID_VALUE, "copy of %zu bytes from 0x%llx: not inside one live allocation",
                    ByteCount, srcDevice);
    }
    memcpy(dstHost, (const void *)(uintptr_t)srcDevice, ByteCount);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (!in_device_memory((uintptr_t)dstDevice, ByteCount) || !in_device_memory((uintptr_t)srcDevice, ByteCount)) {
        return fail(CUDA_ERROR_INVALID_VALUE, "copy of %zu bytes from 0x%llx to 0x%llx: not inside live allocations",
                    ByteCount, srcDevice, dstDevice);
    }
    memmove((void *)(uintptr_t)dstDevice, (const void *)(uintptr_t)srcDevice, ByteCount);
    return CUDA_SUCCESS;
}

// Accepts NUL-terminated PTX text; the module's kernels are its .entry names that the emulator has.
CUresult cuModuleLoadData(CUmodule *module, const void *image) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (module == nullptr || image == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "module or image is NULL");
    }
    auto m = std::make_unique<CUmod_st>();
    if (CUresult rc = parse_ptx((const char *)image, m->entries)) {
        return rc;
    }
    *module = m.release();
    modules.insert(*module);
    return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name) {
    DRIVER_LOCK;
    if (hfunc == nullptr || name == nullptr) {
        return fail(CUDA_ERROR_INVALID_VALUE, "hfunc or name is NULL");
    }
    if (modules.count(hmod) == 0) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "%p is not a loaded module", (void *)hmod);
    }
    auto found = hmod->functions.find(name);
    if (found != hmod->functions.end()) {
        *hfunc = found->second.get();
        return CUDA_SUCCESS;
    }
    if (hmod->entries.count(name) == 0) {
        return fail(CUDA_ERROR_NOT_FOUND, "the module's PTX has no .entry %s", name);
    }
    const Kernel *k = find_kernel(name);
    if (k == nullptr) {
        return fail(CUDA_ERROR_NOT_FOUND, "%s is in the PTX but not emulated: add EMULATED(%s) to fake_cuda.cpp",
                    name, name);
    }
    auto f = std::make_unique<CUfunc_st>(CUfunc_st{k, hmod});
    *hfunc = f.get();
    functions.insert(f.get());
    hmod->functions.emplace(name, std::move(f));
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule hmod) {
    DRIVER_LOCK;
    if (modules.count(hmod) == 0) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "%p is not a loaded module", (void *)hmod);
    }
    for (auto &f : hmod->functions) {
        functions.erase(f.second.get());
    }
    modules.erase(hmod);
    delete hmod;
    return CUDA_SUCCESS;
}

// Runs the whole grid before returning; a deadlock or trap in the kernel is CUDA_ERROR_LAUNCH_FAILED here
// (a GPU would report it at the next synchronisation, and then refuse the context's every call).
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra) {
    DRIVER_LOCK;
    if (CUresult rc = need_context()) {
        return rc;
    }
    if (functions.count(f) == 0) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "%p is not a function of a loaded module", (void *)f);
    }
    const Kernel *k = f->kernel;
    if (gridDimX < 1 || gridDimY < 1 || gridDimZ < 1 || gridDimX > 0x7fffffffu || gridDimY > 65535 || gridDimZ > 65535) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: grid %u x %u x %u is outside 1..2^31-1 x 1..65535 x 1..65535",
                    k->name, gridDimX, gridDimY, gridDimZ);
    }
    if (blockDimX < 1 || blockDimY < 1 || blockDimZ < 1 || blockDimX > 1024 || blockDimY > 1024 || blockDimZ > 64
        || (unsigned long long)blockDimX * blockDimY * blockDimZ > (unsigned long long)kMaxThreads) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: block %u x %u x %u is over 1024 threads or outside 1024 x 1024 x 64",
                    k->name, blockDimX, blockDimY, blockDimZ);
    }
    if (sharedMemBytes > 48 * 1024) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: %u bytes of dynamic shared memory (at most 48 KiB)", k->name,
                    sharedMemBytes);
    }
    // NULL and the two default-stream handles (CU_STREAM_LEGACY, CU_STREAM_PER_THREAD).
    if (hStream != nullptr && (uintptr_t)hStream != 0x1 && (uintptr_t)hStream != 0x2) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "%s: streams other than the default stream are not emulated", k->name);
    }
    if (extra != nullptr) {
        return fail(CUDA_ERROR_NOT_SUPPORTED, "%s: parameters through `extra` are not emulated", k->name);
    }
    if (kernelParams == nullptr && k->arity > 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s takes %d parameters and kernelParams is NULL", k->name, k->arity);
    }
    // A GPU faults when the kernel uses a pointer outside device memory; checking the pointers up front names
    // the parameter (the emulator cannot watch the kernel's own accesses).
    for (int i = 0; i < k->arity; i++) {
        if (kernelParams[i] == nullptr) {
            return fail(CUDA_ERROR_INVALID_VALUE, "%s: kernelParams[%d] is NULL", k->name, i);
        }
        if (k->pointer[i]) {
            uintptr_t p = param<uintptr_t>(kernelParams[i]);
            if (p != 0 && !in_device_memory(p, 0)) {
                return fail(CUDA_ERROR_ILLEGAL_ADDRESS, "%s: parameter %d is 0x%llx, which is not in device memory",
                            k->name, i, (unsigned long long)p);
            }
        }
    }
    launches++;
    Launch launch{k, kernelParams};
    if (!scheduler.run(dim3(gridDimX, gridDimY, gridDimZ), dim3(blockDimX, blockDimY, blockDimZ), &run_thread, &launch,
                       k->name)) {
        return fail(CUDA_ERROR_LAUNCH_FAILED, "%s", scheduler.error());
    }
    return CUDA_SUCCESS;
}

// ---- for tests -----------------------------------------------------------------------------------------

// Device bytes allocated and not freed.
unsigned long long isthmus_emu_live_bytes(void) {
    DRIVER_LOCK;
    return liveBytes;
}

// Kernel launches that ran (passed the launch checks).
unsigned long long isthmus_emu_launches(void) {
    DRIVER_LOCK;
    return launches;
}

// What the emulator knows about the last failed call ("" if none failed).
const char *isthmus_emu_last_error(void) {
    DRIVER_LOCK;
    static std::string copy;
    copy = lastError;
    return copy.c_str();
}

// The kernels.cu kernels the emulator has (the EMULATED list), one name per line.
const char *isthmus_emu_kernel_names(void) {
    static const std::string names = kernel_names();
    return names.c_str();
}

} // extern "C"
#pragma GCC visibility pop
