{
  "targets": [
    {
      "target_name": "mat_native",
      "sources": [
        "csrc/addon.cc",
        "csrc/thread_pool.cc",
        "csrc/gemm.cc",
        "csrc/ukernels.cc",
        "csrc/conv.cc",
        "csrc/winograd.cc",
        "csrc/pool.cc",
        "csrc/reduce.cc",
        "csrc/elementwise.cc"
      ],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags!": ["-O2", "-O0"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
