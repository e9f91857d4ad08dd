// nereid_cuda: the CUDA addon. Loads on every machine: the CUDA runtime, cuBLASLt and
// NVML are opened on first use (cuda-api.cc), and without them the probe reports no
// device and why.
#include <dlfcn.h>
#include <napi.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "cuda-api.h"
#include "cuda-shared-memory.h"
#include "dense-executor.h"
#include "devices.h"

namespace {

using namespace nereid::cuda;

std::string addonDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&addonDirectory), &info) == 0 || !info.dli_fname) return ".";
  std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

const std::string& kernelsPath() {
  static const std::string path = addonDirectory() + "/nereid_cuda_kernels.fatbin";
  return path;
}

template <typename Api>
Napi::Object libraryStatus(Napi::Env env, const Loaded<Api>& loaded) {
  Napi::Object status = Napi::Object::New(env);
  status.Set("loaded", Napi::Boolean::New(env, loaded.api != nullptr));
  if (loaded.api) status.Set("path", loaded.path);
  if (!loaded.error.empty()) status.Set("error", loaded.error);
  return status;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DeviceProbe& probe = probeDevices();
  Napi::Object result = Napi::Object::New(env);
  Napi::Array devices = Napi::Array::New(env, probe.devices.size());
  for (size_t i = 0; i < probe.devices.size(); ++i) {
    const DeviceInfo& d = probe.devices[i];
    Napi::Object device = Napi::Object::New(env);
    device.Set("index", d.index);
    device.Set("name", d.name);
    device.Set("uuid", d.uuid);
    device.Set("pciBusId", d.pciBusId);
    device.Set("totalMemoryBytes", static_cast<double>(d.totalMemoryBytes));
    device.Set("computeCapability", std::to_string(d.computeCapabilityMajor) + "." + std::to_string(d.computeCapabilityMinor));
    device.Set("multiProcessorCount", d.multiProcessorCount);
    devices.Set(i, device);
  }
  result.Set("devices", devices);
  if (!probe.reason.empty()) result.Set("reason", probe.reason);
  result.Set("runtimeVersion", probe.runtimeVersion);
  result.Set("driverVersion", probe.driverVersion);
  return result;
}

/** Which libraries opened; opening NVML and cuBLASLt is deferred to this call or their first use. */
Napi::Value Libraries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("driver", libraryStatus(env, cudaDriver()));
  result.Set("runtime", libraryStatus(env, cudaRuntime()));
  result.Set("cublasLt", libraryStatus(env, cublasLt()));
  result.Set("nvml", libraryStatus(env, nvml()));
  Napi::Object kernels = Napi::Object::New(env);
  kernels.Set("path", kernelsPath());
  kernels.Set("built", Napi::Boolean::New(env, access(kernelsPath().c_str(), R_OK) == 0));
  result.Set("kernels", kernels);
  return result;
}

Napi::Value ReadNvml(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "readNvml(uuid: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const NvmlReading reading = readNvml(info[0].As<Napi::String>());
  Napi::Object result = Napi::Object::New(env);
  if (!reading.error.empty()) {
    result.Set("error", reading.error);
    return result;
  }
  result.Set("utilization", reading.utilization);
  result.Set("memoryTotalBytes", static_cast<double>(reading.memoryTotalBytes));
  result.Set("memoryUsedBytes", static_cast<double>(reading.memoryUsedBytes));
  result.Set("powerUsageWatts", reading.powerUsageWatts);
  result.Set("powerLimitWatts", reading.powerLimitWatts);
  result.Set("energyJoules", reading.energyJoules);
  return result;
}

Napi::Value ConfigureMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "configureMemory({ pinnedPoolBytes, devicePoolBytes: [[device, bytes]] })").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object options = info[0].As<Napi::Object>();
  MemorySettings settings;
  if (options.Get("pinnedPoolBytes").IsNumber()) settings.pinnedPoolBytes = static_cast<size_t>(options.Get("pinnedPoolBytes").As<Napi::Number>().DoubleValue());
  if (options.Get("devicePoolBytes").IsArray()) {
    Napi::Array pools = options.Get("devicePoolBytes").As<Napi::Array>();
    for (uint32_t i = 0; i < pools.Length(); ++i) {
      Napi::Array pair = pools.Get(i).As<Napi::Array>();
      settings.devicePoolBytes.emplace_back(pair.Get(0u).As<Napi::Number>().Int32Value(),
                                            static_cast<size_t>(pair.Get(1u).As<Napi::Number>().DoubleValue()));
    }
  }
  configureMemory(settings);
  return env.Undefined();
}

/** Reads a plan object made by src/backends/cuda/dense-graph.ts; throws a TypeError naming the bad field. */
bool readPlan(Napi::Env env, Napi::Object object, Plan& plan) {
  auto fail = [&](const std::string& what) {
    Napi::TypeError::New(env, "plan: " + what).ThrowAsJavaScriptException();
    return false;
  };
  const std::string precision = object.Get("precision").ToString();
  if (precision == "FP32") plan.precision = Precision::FP32;
  else if (precision == "FP16") plan.precision = Precision::FP16;
  else if (precision == "BF16") plan.precision = Precision::BF16;
  else return fail("precision must be FP32, FP16 or BF16");
  auto ints = [&](const char* field, auto& target) {
    Napi::Value value = object.Get(field);
    if (!value.IsArray()) return fail(std::string(field) + " must be an array");
    Napi::Array array = value.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) target.push_back(array.Get(i).As<Napi::Number>().Int64Value());
    return true;
  };
  if (!ints("widths", plan.widths) || !ints("inputs", plan.inputs) || !ints("outputs", plan.outputs)) return false;
  Napi::Value weights = object.Get("weights");
  if (!weights.IsArray()) return fail("weights must be an array");
  Napi::Array weightArray = weights.As<Napi::Array>();
  for (uint32_t i = 0; i < weightArray.Length(); ++i) {
    Napi::Object w = weightArray.Get(i).As<Napi::Object>();
    Napi::Value values = w.Get("values");
    if (!values.IsTypedArray() || values.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      return fail("weights[" + std::to_string(i) + "].values must be a Float32Array");
    }
    Napi::Float32Array floats = values.As<Napi::Float32Array>();
    Weight weight;
    weight.values.assign(floats.Data(), floats.Data() + floats.ElementLength());
    weight.rows = w.Get("rows").As<Napi::Number>().Uint32Value();
    weight.cols = w.Get("cols").As<Napi::Number>().Uint32Value();
    plan.weights.push_back(std::move(weight));
  }
  Napi::Value steps = object.Get("steps");
  if (!steps.IsArray()) return fail("steps must be an array");
  Napi::Array stepArray = steps.As<Napi::Array>();
  for (uint32_t i = 0; i < stepArray.Length(); ++i) {
    Napi::Object s = stepArray.Get(i).As<Napi::Object>();
    Step step;
    const std::string op = s.Get("op").ToString();
    if (op == "MatMul") step.kind = StepKind::MatMul;
    else if (op == "Add") step.kind = StepKind::Add;
    else if (op == "AddBias") step.kind = StepKind::AddBias;
    else if (op == "Relu") step.kind = StepKind::Relu;
    else if (op == "Sigmoid") step.kind = StepKind::Sigmoid;
    else if (op == "Tanh") step.kind = StepKind::Tanh;
    else if (op == "Softmax") step.kind = StepKind::Softmax;
    else return fail("steps[" + std::to_string(i) + "].op '" + op + "' is unknown");
    auto integer = [&](const char* field, int fallback) {
      Napi::Value v = s.Get(field);
      return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : fallback;
    };
    step.input = integer("input", -1);
    step.other = integer("other", -1);
    step.weight = integer("weight", -1);
    step.bias = integer("bias", -1);
    step.output = integer("output", -1);
    step.transposeWeight = s.Get("transposeWeight").ToBoolean();
    step.relu = s.Get("relu").ToBoolean();
    if (s.Get("alpha").IsNumber()) step.alpha = s.Get("alpha").As<Napi::Number>().FloatValue();
    plan.steps.push_back(step);
  }
  if (std::string invalid = validatePlan(plan); !invalid.empty()) return fail(invalid);
  return true;
}

class DenseModel : public Napi::ObjectWrap<DenseModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DenseModel",
                       {InstanceMethod("run", &DenseModel::Run), InstanceMethod("runDevice", &DenseModel::RunDevice), InstanceMethod("close", &DenseModel::Close)});
  }

  /** new DenseModel(plan, device): uploads the weights; throws with the reason when the device cannot run it. */
  explicit DenseModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DenseModel>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "new DenseModel(plan, device)").ThrowAsJavaScriptException();
      return;
    }
    Plan plan;
    if (!readPlan(env, info[0].As<Napi::Object>(), plan)) return;
    const int device = info[1].As<Napi::Number>().Int32Value();
    const DeviceProbe& probe = probeDevices();
    if (probe.devices.empty()) {
      Napi::Error::New(env, "no CUDA device: " + probe.reason).ThrowAsJavaScriptException();
      return;
    }
    if (device < 0 || device >= static_cast<int>(probe.devices.size())) {
      Napi::RangeError::New(env, "CUDA device " + std::to_string(device) + " does not exist (devices: " + std::to_string(probe.devices.size()) + ")")
          .ThrowAsJavaScriptException();
      return;
    }
    std::string error;
    const KernelLibrary* kernels = KernelLibrary::load(kernelsPath(), error);
    if (kernels) executor_ = DenseExecutor::create(plan, device, *kernels, error);
    if (!executor_) {
      Napi::Error::New(env, error).ThrowAsJavaScriptException();
      return;
    }
    for (int index : plan.inputs) inputWidths_.push_back(plan.widths[index]);
    for (int index : plan.outputs) outputWidths_.push_back(plan.widths[index]);
    device_ = device;
  }

 private:
  /**
   * One batch on the executor's thread: `Execute` fills the host outputs (`results_`, sized
   * by the subclass: empty for an output not wanted on the host), and the promise resolves
   * with them as Float32Arrays. The model is busy until it settles.
   */
  class BatchWorker : public Napi::AsyncWorker {
   public:
    BatchWorker(Napi::Env env, DenseModel* model, size_t rows, std::vector<Napi::Reference<Napi::Float32Array>> hostInputs)
        : Napi::AsyncWorker(env), model_(model), rows_(rows), hostInputs_(std::move(hostInputs)), deferred_(Napi::Promise::Deferred::New(env)) {}
    Napi::Promise Promise() { return deferred_.Promise(); }
    void OnOK() override {
      Napi::Env env = Env();
      model_->busy_ = false;
      Napi::Array result = Napi::Array::New(env, results_.size());
      for (size_t i = 0; i < results_.size(); ++i) {
        Napi::Float32Array array = Napi::Float32Array::New(env, results_[i].size());
        std::copy(results_[i].begin(), results_[i].end(), array.Data());
        result.Set(i, array);
      }
      deferred_.Resolve(result);
    }
    void OnError(const Napi::Error& error) override {
      model_->busy_ = false;
      deferred_.Reject(error.Value());
    }

   protected:
    DenseModel* model_;
    size_t rows_;
    /** Keeps the host inputs alive while the executor reads them. */
    std::vector<Napi::Reference<Napi::Float32Array>> hostInputs_;
    std::vector<std::vector<float>> results_;
    Napi::Promise::Deferred deferred_;
  };

  class RunWorker : public BatchWorker {
   public:
    RunWorker(Napi::Env env, DenseModel* model, size_t rows, std::vector<Napi::Reference<Napi::Float32Array>> inputs)
        : BatchWorker(env, model, rows, std::move(inputs)) {
      for (auto& ref : hostInputs_) inputs_.push_back(ref.Value().Data());
      for (uint32_t width : model->outputWidths_) results_.emplace_back(rows * width);
    }
    void Execute() override {
      std::vector<float*> outputs;
      for (auto& o : results_) outputs.push_back(o.data());
      std::string error;
      if (!model_->executor_->run(rows_, inputs_, outputs, error)) SetError(error);
    }

   private:
    std::vector<const float*> inputs_;
  };

  static Napi::Promise rejected(Napi::Env env, const std::string& message) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(Napi::Error::New(env, message).Value());
    return deferred.Promise();
  }

  /** Why the model cannot take a batch now (empty if it can). */
  std::string notReady() const {
    if (!executor_) return "the model is closed";
    if (busy_) return "the model is already running a batch";
    return "";
  }

  /** The row count argument (empty message), or why it is not one. */
  static std::string readRows(const Napi::Value& value, size_t& rows) {
    const double number = value.As<Napi::Number>().DoubleValue();
    if (!(number >= 0) || number != static_cast<double>(static_cast<size_t>(number))) return "rows must be a whole number";
    rows = static_cast<size_t>(number);
    return "";
  }

  /** Input `i` as a host Float32Array of `rows` rows (empty message), or why it is not one. */
  std::string readHostInput(const Napi::Float32Array& input, uint32_t i, size_t rows) const {
    if (input.ElementLength() == rows * inputWidths_[i]) return "";
    return "input " + std::to_string(i) + ": expected " + std::to_string(rows * inputWidths_[i]) + " values, got " + std::to_string(input.ElementLength());
  }

  static bool isFloat32Array(const Napi::Value& value) { return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array; }

  /** Queues a batch: the model is busy until its promise settles. */
  Napi::Value start(BatchWorker* worker) {
    busy_ = true;
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  }

  /** run(rows, inputs: Float32Array[]): Promise<Float32Array[]>, one run at a time. */
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (std::string why = notReady(); !why.empty()) return rejected(env, why);
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsArray()) return rejected(env, "run(rows, inputs: Float32Array[])");
    size_t rows = 0;
    if (std::string why = readRows(info[0], rows); !why.empty()) return rejected(env, why);
    Napi::Array array = info[1].As<Napi::Array>();
    if (array.Length() != inputWidths_.size()) return rejected(env, "expected " + std::to_string(inputWidths_.size()) + " inputs");
    std::vector<Napi::Reference<Napi::Float32Array>> inputs;
    for (uint32_t i = 0; i < array.Length(); ++i) {
      Napi::Value value = array.Get(i);
      if (!isFloat32Array(value)) return rejected(env, "input " + std::to_string(i) + " must be a Float32Array");
      if (std::string why = readHostInput(value.As<Napi::Float32Array>(), i, rows); !why.empty()) return rejected(env, why);
      inputs.push_back(Napi::Persistent(value.As<Napi::Float32Array>()));
    }
    return start(new RunWorker(env, this, rows, std::move(inputs)));
  }

  /** The direct device path (DenseExecutor::runBatch): host inputs are kept alive by references, spans are device addresses. */
  class RunDeviceWorker : public BatchWorker {
   public:
    RunDeviceWorker(Napi::Env env, DenseModel* model, size_t rows, std::vector<Napi::Reference<Napi::Float32Array>> hostRefs, std::vector<BatchInput> inputs,
                    std::vector<BatchOutput> outputs, std::vector<bool> host)
        : BatchWorker(env, model, rows, std::move(hostRefs)), inputs_(std::move(inputs)), outputs_(std::move(outputs)) {
      for (size_t i = 0; i < outputs_.size(); ++i) {
        results_.emplace_back(host[i] ? rows * model->outputWidths_[i] : 0);
        if (host[i]) outputs_[i].host = results_[i].data();
      }
    }
    void Execute() override {
      std::string error;
      if (!model_->executor_->runBatch(rows_, inputs_, outputs_, error)) SetError(error);
    }

   private:
    std::vector<BatchInput> inputs_;
    std::vector<BatchOutput> outputs_;
  };

  /** A span object { deviceId, pointer: bigint, byteSize } of this model's device; empty message when it is one, else why not. */
  std::string readSpan(Napi::Value value, DeviceSpan& span) const {
    if (!value.IsObject()) return "is not a device span";
    Napi::Object object = value.As<Napi::Object>();
    if (!object.Get("sharedBuffer").IsUndefined()) return "is memory of a fake device, not of CUDA device " + std::to_string(device_);
    Napi::Value device = object.Get("deviceId");
    if (!device.IsNumber() || device.As<Napi::Number>().Int32Value() != device_) {
      return "is memory of CUDA device " + (device.IsNumber() ? std::to_string(device.As<Napi::Number>().Int32Value()) : std::string("?")) +
             ", the model runs on device " + std::to_string(device_);
    }
    Napi::Value pointer = object.Get("pointer");
    Napi::Value bytes = object.Get("byteSize");
    if (!pointer.IsBigInt() || !bytes.IsNumber()) return "needs a bigint 'pointer' and a number 'byteSize'";
    bool lossless = true;
    span.pointer = reinterpret_cast<const void*>(static_cast<uintptr_t>(pointer.As<Napi::BigInt>().Uint64Value(&lossless)));
    const double size = bytes.As<Napi::Number>().DoubleValue();
    if (!lossless || !(size >= 0) || size > 9007199254740991.0) return "has a bad pointer or byteSize";
    span.bytes = static_cast<size_t>(size);
    return "";
  }

  /**
   * runDevice(rows, inputs: (Float32Array | DeviceSpan[])[], outputs: { host, scatter: { rowStart, rows, span }[] }[]):
   * Promise<Float32Array[]>, the outputs not wanted on the host empty.
   */
  Napi::Value RunDevice(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto reject = [&](const std::string& message) { return rejected(env, message); };
    if (std::string why = notReady(); !why.empty()) return reject(why);
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsArray() || !info[2].IsArray()) return reject("runDevice(rows, inputs, outputs)");
    size_t rows = 0;
    if (std::string why = readRows(info[0], rows); !why.empty()) return reject(why);
    Napi::Array inputArray = info[1].As<Napi::Array>();
    Napi::Array outputArray = info[2].As<Napi::Array>();
    if (inputArray.Length() != inputWidths_.size()) return reject("expected " + std::to_string(inputWidths_.size()) + " inputs");
    if (outputArray.Length() != outputWidths_.size()) return reject("expected " + std::to_string(outputWidths_.size()) + " outputs");
    std::vector<Napi::Reference<Napi::Float32Array>> hostRefs;
    std::vector<BatchInput> inputs(inputArray.Length());
    for (uint32_t i = 0; i < inputArray.Length(); ++i) {
      Napi::Value value = inputArray.Get(i);
      if (isFloat32Array(value)) {
        Napi::Float32Array input = value.As<Napi::Float32Array>();
        if (std::string why = readHostInput(input, i, rows); !why.empty()) return reject(why);
        inputs[i].host = input.Data();
        hostRefs.push_back(Napi::Persistent(input));
        continue;
      }
      if (!value.IsArray()) return reject("input " + std::to_string(i) + " must be a Float32Array or an array of device spans");
      Napi::Array spans = value.As<Napi::Array>();
      for (uint32_t k = 0; k < spans.Length(); ++k) {
        DeviceSpan span;
        if (std::string why = readSpan(spans.Get(k), span); !why.empty()) return reject("input " + std::to_string(i) + ", span " + std::to_string(k) + " " + why);
        inputs[i].spans.push_back(span);
      }
    }
    std::vector<BatchOutput> outputs(outputArray.Length());
    std::vector<bool> host(outputArray.Length());
    for (uint32_t i = 0; i < outputArray.Length(); ++i) {
      if (!outputArray.Get(i).IsObject()) return reject("output " + std::to_string(i) + " must be { host, scatter }");
      Napi::Object output = outputArray.Get(i).As<Napi::Object>();
      host[i] = output.Get("host").ToBoolean();
      Napi::Value scatter = output.Get("scatter");
      if (!scatter.IsArray()) return reject("output " + std::to_string(i) + ": 'scatter' must be an array");
      Napi::Array scatterArray = scatter.As<Napi::Array>();
      for (uint32_t k = 0; k < scatterArray.Length(); ++k) {
        if (!scatterArray.Get(k).IsObject()) return reject("output " + std::to_string(i) + ", scatter " + std::to_string(k) + " must be { rowStart, rows, span }");
        Napi::Object entry = scatterArray.Get(k).As<Napi::Object>();
        DeviceSpan span;
        if (std::string why = readSpan(entry.Get("span"), span); !why.empty()) return reject("output " + std::to_string(i) + ", scatter " + std::to_string(k) + ": the span " + why);
        const double rowStart = entry.Get("rowStart").ToNumber().DoubleValue();
        const double count = entry.Get("rows").ToNumber().DoubleValue();
        if (!(rowStart >= 0) || !(count >= 0) || rowStart + count > static_cast<double>(rows)) {
          return reject("output " + std::to_string(i) + ", scatter " + std::to_string(k) + ": rows are not rows of the batch");
        }
        if (static_cast<double>(span.bytes) < count * outputWidths_[i] * 4) {
          return reject("output " + std::to_string(i) + ", scatter " + std::to_string(k) + ": the span of " + std::to_string(span.bytes) + " bytes cannot hold " +
                        std::to_string(static_cast<size_t>(count) * outputWidths_[i] * 4));
        }
        outputs[i].scatter.push_back({static_cast<size_t>(rowStart), static_cast<size_t>(count), const_cast<void*>(span.pointer)});
      }
    }
    return start(new RunDeviceWorker(env, this, rows, std::move(hostRefs), std::move(inputs), std::move(outputs), host));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (busy_) {
      Napi::Error::New(info.Env(), "close() while a batch runs").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    executor_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<DenseExecutor> executor_;
  std::vector<uint32_t> inputWidths_;
  std::vector<uint32_t> outputWidths_;
  int device_ = 0;
  bool busy_ = false;
};

const char* ipcErrorCode(IpcErrorKind kind) {
  switch (kind) {
    case IpcErrorKind::InvalidArgument:
      return "ERR_INVALID_ARG";
    case IpcErrorKind::NoRuntime:
      return "ERR_NO_RUNTIME";
    case IpcErrorKind::NoDevice:
      return "ERR_NO_DEVICE";
    case IpcErrorKind::DeviceRange:
      return "ERR_DEVICE_RANGE";
    case IpcErrorKind::OpenFailed:
      return "ERR_IPC_OPEN";
    case IpcErrorKind::OutOfRange:
      return "ERR_OUT_OF_RANGE";
    case IpcErrorKind::CopyFailed:
      return "ERR_COPY";
    case IpcErrorKind::Closed:
      return "ERR_CLOSED";
    default:
      return "ERR_UNKNOWN";
  }
}

void throwIpcError(Napi::Env env, const IpcError& error) {
  Napi::Error e = Napi::Error::New(env, error.message);
  e.Set("code", ipcErrorCode(error.kind));
  e.ThrowAsJavaScriptException();
}

/** A client's CUDA shared memory region: new CudaSharedMemory(handle: Uint8Array, device, byteSize). */
class CudaSharedMemory : public Napi::ObjectWrap<CudaSharedMemory> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaSharedMemory",
                       {InstanceMethod("read", &CudaSharedMemory::Read), InstanceMethod("write", &CudaSharedMemory::Write),
                        InstanceMethod("pointer", &CudaSharedMemory::Pointer), InstanceMethod("close", &CudaSharedMemory::Close)});
  }

  explicit CudaSharedMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaSharedMemory>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[1].IsNumber() ||
        !info[2].IsNumber()) {
      throwIpcError(env, {IpcErrorKind::InvalidArgument, "new CudaSharedMemory(handle: Uint8Array, device: number, byteSize: number)"});
      return;
    }
    Napi::Uint8Array handle = info[0].As<Napi::Uint8Array>();
    const double device = info[1].As<Napi::Number>().DoubleValue();
    const double byteSize = info[2].As<Napi::Number>().DoubleValue();
    if (device != static_cast<double>(static_cast<int>(device)) || !(byteSize >= 0) || byteSize > 9007199254740991.0) {
      throwIpcError(env, {IpcErrorKind::InvalidArgument, "device and byteSize must be non-negative integers"});
      return;
    }
    IpcError error;
    region_ = CudaIpcRegion::open(handle.Data(), handle.ByteLength(), static_cast<int>(device), static_cast<size_t>(byteSize), error);
    if (!region_) throwIpcError(env, error);
  }

 private:
  /** read(offset, target: Uint8Array) and write(offset, source: Uint8Array): the bytes of the array. */
  bool access(const Napi::CallbackInfo& info, bool toDevice) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray()) {
      throwIpcError(env, {IpcErrorKind::InvalidArgument, toDevice ? "write(offset, source: TypedArray)" : "read(offset, target: TypedArray)"});
      return false;
    }
    const double offset = info[0].As<Napi::Number>().DoubleValue();
    if (!(offset >= 0) || offset > 9007199254740991.0) {
      throwIpcError(env, {IpcErrorKind::OutOfRange, "offset must be a non-negative integer"});
      return false;
    }
    Napi::TypedArray array = info[1].As<Napi::TypedArray>();
    unsigned char* bytes = static_cast<unsigned char*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    IpcError error;
    if (!region_) {
      throwIpcError(env, {IpcErrorKind::Closed, "the CUDA shared memory region is closed"});
      return false;
    }
    const bool ok = toDevice ? region_->write(static_cast<size_t>(offset), bytes, array.ByteLength(), error)
                             : region_->read(static_cast<size_t>(offset), bytes, array.ByteLength(), error);
    if (!ok) throwIpcError(env, error);
    return ok;
  }
  Napi::Value Read(const Napi::CallbackInfo& info) {
    access(info, false);
    return info.Env().Undefined();
  }
  Napi::Value Write(const Napi::CallbackInfo& info) {
    access(info, true);
    return info.Env().Undefined();
  }
  /** pointer(offset, byteSize): bigint, the device address of those bytes for the direct device path; bounds-checked. */
  Napi::Value Pointer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      throwIpcError(env, {IpcErrorKind::InvalidArgument, "pointer(offset: number, byteSize: number)"});
      return env.Undefined();
    }
    if (!region_) {
      throwIpcError(env, {IpcErrorKind::Closed, "the CUDA shared memory region is closed"});
      return env.Undefined();
    }
    const double offset = info[0].As<Napi::Number>().DoubleValue();
    const double bytes = info[1].As<Napi::Number>().DoubleValue();
    void* at = offset >= 0 && bytes >= 0 && offset + bytes <= static_cast<double>(region_->byteSize())
                   ? region_->at(static_cast<size_t>(offset), static_cast<size_t>(bytes))
                   : nullptr;
    if (!at) {
      throwIpcError(env, {IpcErrorKind::OutOfRange, "offset " + std::to_string(static_cast<long long>(offset)) + " + " + std::to_string(static_cast<long long>(bytes)) +
                                                        " bytes runs past the " + std::to_string(region_->byteSize()) + "-byte region"});
      return env.Undefined();
    }
    return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(at)));
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    region_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<CudaIpcRegion> region_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("libraries", Napi::Function::New(env, Libraries));
  exports.Set("readNvml", Napi::Function::New(env, ReadNvml));
  exports.Set("configureMemory", Napi::Function::New(env, ConfigureMemory));
  exports.Set("DenseModel", DenseModel::Define(env));
  exports.Set("CudaSharedMemory", CudaSharedMemory::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(nereid_cuda, Init)
