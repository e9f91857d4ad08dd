{
  "targets": [
    {
      "target_name": "nereid_native",
      "sources": ["src/addon.cc", "src/system-shared-memory.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lrt"]
    },
    {
      "target_name": "nereid_cuda",
      "sources": ["cuda/src/addon.cc", "cuda/src/cuda-api.cc", "cuda/src/devices.cc", "cuda/src/dense-plan.cc", "cuda/src/dense-executor.cc", "cuda/src/cuda-shared-memory.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-ldl"]
    }
  ]
}
