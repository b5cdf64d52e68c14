// 2-D convolution on NHWC tensors with HWIO filters [fH, fW, inC, outC], as GEMMs over "im2col" rows:
// one row per output pixel, one column per filter tap (kh, kw, ci). The im2col matrix is never stored:
// its blocks are gathered straight into the GEMM's packed panels.
#pragma once

namespace matn {

struct ConvGeom {
  int batch, inH, inW, inC, outH, outW, outC, fH, fW, strideH, strideW, dilH, dilW, padTop, padLeft;
  long rows() const { return static_cast<long>(batch) * outH * outW; }
  /** GEMM depth of the forward pass: fH * fW * inC. */
  int taps() const { return fH * fW * inC; }
  /** 1x1, stride 1, no padding: the input already is the im2col matrix. */
  bool pointwise() const {
    return fH == 1 && fW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && outH == inH &&
           outW == inW;
  }
};

enum class Activation { Linear = 0, Relu = 1 };

/** y[rows, outC] = im2col(x) * w (+ bias[outC]) then the activation. */
void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, Activation act, float* y);

/** dx = col2im(dy * w^T): the gradient of conv2d_forward (linear) with respect to x. Overwrites dx. */
void conv2d_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx);

/** dw = im2col(x)^T * dy: the gradient with respect to the filter. Overwrites dw. */
void conv2d_backprop_filter(const ConvGeom& g, const float* x, const float* dy, float* dw);

}  // namespace matn
