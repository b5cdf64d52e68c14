// N-API entry points. Every function takes Float32Arrays owned by JS (inputs and a preallocated output),
// a geometry as an Int32Array, checks all sizes before touching memory, and runs synchronously.
#include <node_api.h>

#include <cstdint>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <string>

#include "conv.h"
#include "elementwise.h"
#include "gemm.h"
#include "pool.h"
#include "reduce.h"
#include "thread_pool.h"
#include "winograd.h"

namespace {

using matn::ConvGeom;
using matn::PoolGeom;

/** Thrown by the argument readers; turned into a JS TypeError/RangeError naming the problem. */
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  napi_env env;
  size_t argc = 12;
  napi_value argv[12];
  const char* fn;

  Args(napi_env e, napi_callback_info info, const char* name, size_t expected) : env(e), fn(name) {
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < expected)
      throw ArgError(std::string(fn) + ": expected " + std::to_string(expected) + " arguments, got " +
                     std::to_string(argc));
  }

  bool is_null(size_t i) const {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    return t == napi_null || t == napi_undefined;
  }

  template <class T>
  T* typed(size_t i, napi_typedarray_type want, size_t minLength, const char* what) const {
    bool ok = false;
    napi_is_typedarray(env, argv[i], &ok);
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (ok) napi_get_typedarray_info(env, argv[i], &type, &length, &data, nullptr, nullptr);
    if (!ok || type != want)
      throw ArgError(std::string(fn) + ": argument '" + what + "' must be a " +
                     (want == napi_float32_array ? "Float32Array" : "Int32Array"));
    if (length < minLength)
      throw ArgError(std::string(fn) + ": '" + what + "' has " + std::to_string(length) + " elements, needs " +
                     std::to_string(minLength));
    return static_cast<T*>(data);
  }

  float* f32(size_t i, size_t minLength, const char* what) const {
    return typed<float>(i, napi_float32_array, minLength, what);
  }

  const int32_t* i32(size_t i, size_t minLength, const char* what) const {
    return typed<int32_t>(i, napi_int32_array, minLength, what);
  }

  double num(size_t i, const char* what) const {
    double v;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok)
      throw ArgError(std::string(fn) + ": argument '" + what + "' must be a number");
    return v;
  }

  bool flag(size_t i) const {
    bool v = false;
    napi_get_value_bool(env, argv[i], &v);
    return v;
  }
};

/** Runs body, converting C++ exceptions into pending JS exceptions. */
template <class F>
napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const ArgError& e) {
    napi_throw_type_error(env, nullptr, e.what());
  } catch (const std::bad_alloc&) {
    napi_throw_error(env, nullptr, "@mat/native: out of memory");
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

size_t sz(long a) { return a < 0 ? 0 : static_cast<size_t>(a); }

ConvGeom conv_geom(const Args& a, size_t i) {
  const int32_t* v = a.i32(i, 15, "geom");
  ConvGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  for (int k = 0; k < 15; ++k)
    if (v[k] < 0) throw ArgError(std::string(a.fn) + ": negative conv geometry");
  if (g.strideH < 1 || g.strideW < 1 || g.dilH < 1 || g.dilW < 1)
    throw ArgError(std::string(a.fn) + ": strides and dilations must be >= 1");
  return g;
}

size_t input_size(const ConvGeom& g) { return sz(static_cast<long>(g.batch) * g.inH * g.inW * g.inC); }
size_t output_size(const ConvGeom& g) { return sz(g.rows() * g.outC); }
size_t filter_size(const ConvGeom& g) { return sz(static_cast<long>(g.taps()) * g.outC); }

// conv2d(x, w, bias | null, y, geom, relu)
napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "conv2d", 6);
    const ConvGeom g = conv_geom(a, 4);
    const float* bias = a.is_null(2) ? nullptr : a.f32(2, g.outC, "bias");
    matn::conv2d_forward(g, a.f32(0, input_size(g), "x"), a.f32(1, filter_size(g), "filter"), bias,
                         a.flag(5) ? matn::Activation::Relu : matn::Activation::Linear,
                         a.f32(3, output_size(g), "y"));
    return undefined(env);
  });
}

// conv2dBackpropInput(dy, w, dx, geom)
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "conv2dBackpropInput", 4);
    const ConvGeom g = conv_geom(a, 3);
    matn::conv2d_backprop_input(g, a.f32(0, output_size(g), "dy"), a.f32(1, filter_size(g), "filter"),
                                a.f32(2, input_size(g), "dx"));
    return undefined(env);
  });
}

// conv2dBackpropFilter(x, dy, dw, geom)
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "conv2dBackpropFilter", 4);
    const ConvGeom g = conv_geom(a, 3);
    matn::conv2d_backprop_filter(g, a.f32(0, input_size(g), "x"), a.f32(1, output_size(g), "dy"),
                                 a.f32(2, filter_size(g), "dw"));
    return undefined(env);
  });
}

// matmul(a, b, c, [batchA, batchB, M, N, K], transA, transB): c[i] = op(a[i % batchA]) op(b[i % batchB]).
napi_value Matmul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "matmul", 6);
    const int32_t* d = a.i32(3, 5, "dims");
    const long batchA = d[0], batchB = d[1], M = d[2], N = d[3], K = d[4];
    if (batchA < 1 || batchB < 1 || M < 0 || N < 0 || K < 0) throw ArgError("matmul: bad dims");
    const bool tA = a.flag(4), tB = a.flag(5);
    const long batch = batchA > batchB ? batchA : batchB;
    const float* A = a.f32(0, sz(batchA * M * K), "a");
    const float* B = a.f32(1, sz(batchB * K * N), "b");
    float* C = a.f32(2, sz(batch * M * N), "c");
    for (long i = 0; i < batch; ++i) {
      matn::sgemm(tA, tB, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), A + (i % batchA) * M * K,
                  tA ? M : K, B + (i % batchB) * K * N, tB ? K : N, C + i * M * N, N, false);
    }
    return undefined(env);
  });
}

PoolGeom pool_geom(const Args& a, size_t i) {
  const int32_t* v = a.i32(i, 14, "geom");
  PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
  for (int k = 0; k < 14; ++k)
    if (v[k] < 0) throw ArgError(std::string(a.fn) + ": negative pool geometry");
  if (g.strideH < 1 || g.strideW < 1 || g.dilH < 1 || g.dilW < 1)
    throw ArgError(std::string(a.fn) + ": strides and dilations must be >= 1");
  return g;
}

size_t pool_in(const PoolGeom& g) { return sz(static_cast<long>(g.batch) * g.inH * g.inW * g.channels); }
size_t pool_out(const PoolGeom& g) { return sz(static_cast<long>(g.batch) * g.outH * g.outW * g.channels); }

// maxPool(x, y, geom) / avgPool(x, y, geom)
template <bool Max>
napi_value Pool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, Max ? "maxPool" : "avgPool", 3);
    const PoolGeom g = pool_geom(a, 2);
    (Max ? matn::max_pool : matn::avg_pool)(g, a.f32(0, pool_in(g), "x"), a.f32(1, pool_out(g), "y"));
    return undefined(env);
  });
}

// maxPoolGrad(dy, x, dx, geom)
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "maxPoolGrad", 4);
    const PoolGeom g = pool_geom(a, 3);
    matn::max_pool_grad(g, a.f32(0, pool_out(g), "dy"), a.f32(1, pool_in(g), "x"), a.f32(2, pool_in(g), "dx"));
    return undefined(env);
  });
}

// avgPoolGrad(dy, dx, geom)
napi_value AvgPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "avgPoolGrad", 3);
    const PoolGeom g = pool_geom(a, 2);
    matn::avg_pool_grad(g, a.f32(0, pool_out(g), "dy"), a.f32(1, pool_in(g), "dx"));
    return undefined(env);
  });
}

/** Length of a Float32Array argument (for the element-wise kernels, where outputs match inputs). */
size_t length_of(const Args& a, size_t i, const char* what) {
  bool ok = false;
  napi_is_typedarray(a.env, a.argv[i], &ok);
  if (!ok) throw ArgError(std::string(a.fn) + ": argument '" + what + "' must be a Float32Array");
  napi_typedarray_type type;
  size_t length = 0;
  napi_get_typedarray_info(a.env, a.argv[i], &type, &length, nullptr, nullptr, nullptr);
  return length;
}

// relu(x, y)
napi_value Relu(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "relu", 2);
    const size_t n = length_of(a, 0, "x");
    matn::relu(a.f32(0, n, "x"), a.f32(1, n, "y"), static_cast<long>(n));
    return undefined(env);
  });
}

// step(x, y, alpha)
napi_value Step(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "step", 3);
    const size_t n = length_of(a, 0, "x");
    matn::step(a.f32(0, n, "x"), a.f32(1, n, "y"), static_cast<long>(n), static_cast<float>(a.num(2, "alpha")));
    return undefined(env);
  });
}

// binary(op, a, aMode, b, bMode, z, cols): z = op(a, b) over z.length elements; modes 0 full, 1 scalar,
// 2 row of `cols` values (see elementwise.h).
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "binary", 7);
    const int op = static_cast<int>(a.num(0, "op"));
    if (op < 0 || op > 6) throw ArgError("binary: unknown op " + std::to_string(op));
    const int am = static_cast<int>(a.num(2, "aMode")), bm = static_cast<int>(a.num(4, "bMode"));
    if (am < 0 || am > 2 || bm < 0 || bm > 2) throw ArgError("binary: modes must be 0 (full), 1 (scalar) or 2 (row)");
    const size_t n = length_of(a, 5, "z");
    const long cols = static_cast<long>(a.num(6, "cols"));
    const bool rows = am == 2 || bm == 2;
    if (rows && (cols <= 0 || n % static_cast<size_t>(cols) != 0))
      throw ArgError("binary: a row operand needs cols > 0 dividing the output length");
    auto need = [&](int mode) { return mode == 0 ? n : mode == 1 ? (n > 0 ? 1 : 0) : static_cast<size_t>(cols); };
    const float* x = a.f32(1, need(am), "a");
    const float* y = a.f32(3, need(bm), "b");
    float* z = a.f32(5, n, "z");
    matn::binary(static_cast<matn::BinOp>(op), x, static_cast<matn::Bcast>(am), y, static_cast<matn::Bcast>(bm), z,
                 static_cast<long>(n), cols);
    return undefined(env);
  });
}

// reluGrad(dy, x, dx)
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "reluGrad", 3);
    const size_t n = length_of(a, 0, "dy");
    matn::relu_grad(a.f32(0, n, "dy"), a.f32(1, n, "x"), a.f32(2, n, "dx"), static_cast<long>(n));
    return undefined(env);
  });
}

// sign(x, y)
napi_value Sign(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "sign", 2);
    const size_t n = length_of(a, 0, "x");
    matn::sign(a.f32(0, n, "x"), a.f32(1, n, "y"), static_cast<long>(n));
    return undefined(env);
  });
}

// clip(x, y, lo, hi)
napi_value Clip(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "clip", 4);
    const size_t n = length_of(a, 0, "x");
    matn::clip(a.f32(0, n, "x"), a.f32(1, n, "y"), static_cast<long>(n), static_cast<float>(a.num(2, "lo")),
               static_cast<float>(a.num(3, "hi")));
    return undefined(env);
  });
}

// reduceSum(x, y, outer, reduce, inner, divisor): y[o, i] = sum_r x[o, r, i] (/ divisor first when > 0)
napi_value ReduceSum(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "reduceSum", 6);
    const double outer = a.num(2, "outer"), reduce = a.num(3, "reduce"), inner = a.num(4, "inner");
    if (!(outer >= 0 && reduce >= 0 && inner >= 0)) throw ArgError("reduceSum: negative dims");
    const long o = static_cast<long>(outer), r = static_cast<long>(reduce), i = static_cast<long>(inner);
    matn::reduce_sum(a.f32(0, sz(o * r * i), "x"), o, r, i, static_cast<float>(a.num(5, "divisor")),
                     a.f32(1, sz(o * i), "y"));
    return undefined(env);
  });
}

// tile(x, out, shape: Int32Array, reps: Int32Array)
napi_value Tile(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "tile", 4);
    const size_t rank = length_of(a, 2, "shape");
    if (rank > 8 || length_of(a, 3, "reps") != rank) throw ArgError("tile: shape and reps need the same rank <= 8");
    const int32_t* shape = a.i32(2, rank, "shape");
    const int32_t* reps = a.i32(3, rank, "reps");
    long in = 1, out = 1;
    for (size_t d = 0; d < rank; ++d) {
      if (shape[d] < 0 || reps[d] < 0) throw ArgError("tile: negative shape or reps");
      in *= shape[d];
      out *= static_cast<long>(shape[d]) * reps[d];
    }
    matn::tile(a.f32(0, sz(in), "x"), shape, reps, static_cast<int>(rank), a.f32(1, sz(out), "out"));
    return undefined(env);
  });
}

// batchNorm(x, mean, variance, scale | null, offset | null, eps, channels, y, relu = false)
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "batchNorm", 8);
    const size_t n = length_of(a, 0, "x");
    const long channels = static_cast<long>(a.num(6, "channels"));
    if (channels <= 0 || n % static_cast<size_t>(channels) != 0)
      throw ArgError("batchNorm: channels must divide the length of x");
    auto param = [&](size_t i, const char* what, bool optional, long* len) -> const float* {
      if (optional && a.is_null(i)) return nullptr;
      *len = static_cast<long>(length_of(a, i, what));
      if (*len != 1 && *len != channels) throw ArgError(std::string("batchNorm: ") + what + " must have 1 or C values");
      return a.f32(i, static_cast<size_t>(*len), what);
    };
    long ml = 0, vl = 0, sl = 0, ol = 0;
    const float* mean = param(1, "mean", false, &ml);
    const float* variance = param(2, "variance", false, &vl);
    const float* scale = param(3, "scale", true, &sl);
    const float* offset = param(4, "offset", true, &ol);
    matn::batch_norm(a.f32(0, n, "x"), static_cast<long>(n), channels, mean, ml, variance, vl, scale, sl, offset, ol,
                     static_cast<float>(a.num(5, "eps")), a.argc > 8 && a.flag(8), a.f32(7, n, "y"));
    return undefined(env);
  });
}

/** Length of x as a multiple of `channels` (argument i), checked. */
long channels_of(const Args& a, size_t i, size_t n, const char* fn) {
  const double c = a.num(i, "channels");
  if (!(c >= 1) || c != static_cast<double>(static_cast<long>(c)) || n % static_cast<size_t>(c) != 0)
    throw ArgError(std::string(fn) + ": channels must be a positive integer dividing the length of dy");
  return static_cast<long>(c);
}

// batchNormReluGrad(dy, y, factor, channels, dx)
napi_value BatchNormReluGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "batchNormReluGrad", 5);
    const size_t n = length_of(a, 0, "dy");
    const long c = channels_of(a, 3, n, "batchNormReluGrad");
    matn::batch_norm_relu_grad(a.f32(0, n, "dy"), a.f32(1, n, "y"), a.f32(2, static_cast<size_t>(c), "factor"),
                               static_cast<long>(n), c, a.f32(4, n, "dx"));
    return undefined(env);
  });
}

// batchNormReluSums(dy, y, x | null, mean | null, channels, sumG, sumGXc | null)
napi_value BatchNormReluSums(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "batchNormReluSums", 7);
    const size_t n = length_of(a, 0, "dy");
    const long c = channels_of(a, 4, n, "batchNormReluSums");
    const size_t cs = static_cast<size_t>(c);
    const bool centred = !a.is_null(6);
    if (centred && (a.is_null(2) || a.is_null(3)))
      throw ArgError("batchNormReluSums: sumGXc needs x and mean");
    matn::batch_norm_relu_sums(a.f32(0, n, "dy"), a.f32(1, n, "y"), centred ? a.f32(2, n, "x") : nullptr,
                               centred ? a.f32(3, cs, "mean") : nullptr, static_cast<long>(n), c,
                               a.f32(5, cs, "sumG"), centred ? a.f32(6, cs, "sumGXc") : nullptr);
    return undefined(env);
  });
}

napi_value make_string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value make_int(napi_env env, int i) {
  napi_value v;
  napi_create_int32(env, i, &v);
  return v;
}

// info() -> { simd, detectedSimd, threads, compiler, mr, nr }
napi_value Info(napi_env env, napi_callback_info) {
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "simd", make_string(env, matn::isa_name(matn::active_isa())));
  napi_set_named_property(env, o, "detectedSimd", make_string(env, matn::isa_name(matn::detected_isa())));
  napi_set_named_property(env, o, "threads", make_int(env, matn::num_threads()));
  napi_set_named_property(env, o, "compiler", make_string(env, "g++ " __VERSION__));
  napi_set_named_property(env, o, "mr", make_int(env, matn::active_kernel().mr));
  napi_set_named_property(env, o, "nr", make_int(env, matn::active_kernel().nr));
  napi_set_named_property(
      env, o, "convAlgorithm",
      make_string(env, matn::conv_algorithm() == matn::ConvAlgorithm::Auto ? "auto" : "im2col"));
  return o;
}

// poolStats(): the thread pool's counters since the last call (then reset)
napi_value PoolStatsFn(napi_env env, napi_callback_info) {
  return guarded(env, [&] {
    const matn::PoolStats s = matn::take_pool_stats();
    napi_value o;
    napi_create_object(env, &o);
    napi_value v;
    napi_create_double(env, static_cast<double>(s.calls), &v);
    napi_set_named_property(env, o, "calls", v);
    napi_create_double(env, static_cast<double>(s.chunks), &v);
    napi_set_named_property(env, o, "chunks", v);
    napi_create_double(env, static_cast<double>(s.caller_chunks), &v);
    napi_set_named_property(env, o, "callerChunks", v);
    napi_create_double(env, static_cast<double>(s.caller_wait_ns) / 1e6, &v);
    napi_set_named_property(env, o, "callerWaitMs", v);
    return o;
  });
}

// setThreads(n)
napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "setThreads", 1);
    const double n = a.num(0, "n");
    if (!(n >= 1 && n <= 256)) throw ArgError("setThreads: n must be in [1, 256]");
    matn::set_num_threads(static_cast<int>(n));
    return undefined(env);
  });
}

/** A short string argument that must be one of `allowed`; the error names the function and the choices. */
std::string choice_arg(napi_env env, napi_value v, const char* fn, const char* what,
                       std::initializer_list<const char*> allowed) {
  char buf[16] = {0};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok)
    throw ArgError(std::string(fn) + ": expected a string");
  const std::string s(buf, len);
  std::string list;
  for (const char* a : allowed) {
    if (s == a) return s;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw ArgError(std::string(fn) + ": unknown " + what + " '" + s + "' (" + list + ")");
}

// setSimd('avx512' | 'avx2' | 'scalar'): clamped to what the CPU has
napi_value SetSimd(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "setSimd", 1);
    const std::string s = choice_arg(env, a.argv[0], "setSimd", "SIMD level", {"avx512", "avx2", "scalar"});
    matn::set_isa(s == "avx512" ? matn::Isa::Avx512 : s == "avx2" ? matn::Isa::Avx2 : matn::Isa::Scalar);
    return undefined(env);
  });
}

// setConvAlgorithm('auto' | 'im2col'): Winograd for the 3x3 stride-1 layers it serves, or im2col everywhere
napi_value SetConvAlgorithm(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info, "setConvAlgorithm", 1);
    const std::string s = choice_arg(env, a.argv[0], "setConvAlgorithm", "algorithm", {"auto", "im2col"});
    matn::set_conv_algorithm(s == "auto" ? matn::ConvAlgorithm::Auto : matn::ConvAlgorithm::Im2col);
    return undefined(env);
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2dBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2dBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, Pool<true>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"avgPool", nullptr, Pool<false>, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"avgPoolGrad", nullptr, AvgPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"relu", nullptr, Relu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"step", nullptr, Step, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sign", nullptr, Sign, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"clip", nullptr, Clip, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduceSum", nullptr, ReduceSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tile", nullptr, Tile, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNorm", nullptr, BatchNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormReluGrad", nullptr, BatchNormReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNormReluSums", nullptr, BatchNormReluSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolStats", nullptr, PoolStatsFn, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setSimd", nullptr, SetSimd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setConvAlgorithm", nullptr, SetConvAlgorithm, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
