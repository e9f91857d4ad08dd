#include "devices.h"

#include <cstdio>
#include <cstring>

#include "cuda-api.h"

namespace nereid::cuda {

namespace {

std::string formatUuid(const unsigned char* bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1],
                bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12],
                bytes[13], bytes[14], bytes[15]);
  return text;
}

DeviceProbe probe() {
  DeviceProbe result;
  if (const auto& driver = cudaDriver(); !driver.api) {
    result.reason = driver.error;
    return result;
  }
  const auto& runtime = cudaRuntime();
  if (!runtime.api) {
    result.reason = "the NVIDIA driver is present but " + runtime.error;
    return result;
  }
  const CudaRuntime& rt = *runtime.api;
  rt.runtimeGetVersion(&result.runtimeVersion);
  rt.driverGetVersion(&result.driverVersion);
  int count = 0;
  if (cudaError_t status = rt.getDeviceCount(&count); status != kCudaSuccess) {
    result.reason = "cudaGetDeviceCount failed: " + cudaErrorText(status);
    return result;
  }
  if (count == 0) {
    result.reason = "the NVIDIA driver reports no CUDA device (check CUDA_VISIBLE_DEVICES)";
    return result;
  }
  std::vector<unsigned char> props(kDevicePropBufferBytes);
  for (int index = 0; index < count; ++index) {
    DeviceInfo device;
    device.index = index;
    std::fill(props.begin(), props.end(), 0);
    if (cudaError_t status = rt.getDeviceProperties(props.data(), index); status != kCudaSuccess) {
      result.devices.clear();
      result.reason = "cudaGetDeviceProperties(" + std::to_string(index) + ") failed: " + cudaErrorText(status);
      return result;
    }
    device.name.assign(reinterpret_cast<const char*>(props.data() + kDevicePropNameOffset), strnlen(reinterpret_cast<const char*>(props.data()), 256));
    device.uuid = formatUuid(props.data() + kDevicePropUuidOffset);
    std::memcpy(&device.totalMemoryBytes, props.data() + kDevicePropTotalMemOffset, sizeof(uint64_t));
    rt.deviceGetAttribute(&device.computeCapabilityMajor, kDevAttrComputeCapabilityMajor, index);
    rt.deviceGetAttribute(&device.computeCapabilityMinor, kDevAttrComputeCapabilityMinor, index);
    rt.deviceGetAttribute(&device.multiProcessorCount, kDevAttrMultiProcessorCount, index);
    char bus[32] = {0};
    if (rt.deviceGetPCIBusId(bus, sizeof bus, index) == kCudaSuccess) device.pciBusId = bus;
    result.devices.push_back(device);
  }
  return result;
}

}  // namespace

const DeviceProbe& probeDevices() {
  static const DeviceProbe devices = probe();
  return devices;
}

NvmlReading readNvml(const std::string& uuid) {
  NvmlReading reading;
  const auto& library = nvml();
  if (!library.api) {
    reading.error = library.error;
    return reading;
  }
  const Nvml& api = *library.api;
  nvmlDevice_t device = nullptr;
  if (nvmlReturn_t status = api.deviceGetHandleByUUID(uuid.c_str(), &device); status != kNvmlSuccess) {
    reading.error = "nvmlDeviceGetHandleByUUID(" + uuid + "): " + api.errorString(status);
    return reading;
  }
  // A reading a device does not support (power on some boards) stays 0 rather than
  // hiding the others.
  NvmlUtilization utilization{};
  if (api.deviceGetUtilizationRates(device, &utilization) == kNvmlSuccess) reading.utilization = utilization.gpu / 100.0;
  NvmlMemory memory{};
  if (api.deviceGetMemoryInfo(device, &memory) == kNvmlSuccess) {
    reading.memoryTotalBytes = memory.total;
    reading.memoryUsedBytes = memory.used;
  }
  unsigned int milliwatts = 0;
  if (api.deviceGetPowerUsage(device, &milliwatts) == kNvmlSuccess) reading.powerUsageWatts = milliwatts / 1000.0;
  if (api.deviceGetPowerManagementLimit(device, &milliwatts) == kNvmlSuccess) reading.powerLimitWatts = milliwatts / 1000.0;
  unsigned long long millijoules = 0;
  if (api.deviceGetTotalEnergyConsumption(device, &millijoules) == kNvmlSuccess) reading.energyJoules = millijoules / 1000.0;
  return reading;
}

}  // namespace nereid::cuda
