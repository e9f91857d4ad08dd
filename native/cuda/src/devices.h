// What the machine offers: CUDA devices as the runtime numbers them, and NVML's
// readings for each. On a machine without a GPU the probe reports no device and why.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nereid::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  /** "GPU-8-4-4-4-12 hex", as nvidia-smi and Triton's gpu_uuid label write it. */
  std::string uuid;
  std::string pciBusId;
  uint64_t totalMemoryBytes = 0;
  int computeCapabilityMajor = 0;
  int computeCapabilityMinor = 0;
  int multiProcessorCount = 0;
};

struct DeviceProbe {
  std::vector<DeviceInfo> devices;
  /** Why `devices` is empty; empty when there are devices. */
  std::string reason;
  int runtimeVersion = 0;
  int driverVersion = 0;
};

/** Probed once per process: devices do not come and go while a server runs. */
const DeviceProbe& probeDevices();

struct NvmlReading {
  /** Empty when the readings are valid. */
  std::string error;
  double utilization = 0;  // [0, 1]
  uint64_t memoryTotalBytes = 0;
  uint64_t memoryUsedBytes = 0;
  double powerUsageWatts = 0;
  double powerLimitWatts = 0;
  /** Since the driver was loaded; callers subtract their first reading. */
  double energyJoules = 0;
};

/** NVML's readings for the device with this UUID. */
NvmlReading readNvml(const std::string& uuid);

}  // namespace nereid::cuda
