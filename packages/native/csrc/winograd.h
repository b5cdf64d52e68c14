// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)
// for the 3x3, stride-1, "same"-padded layers that carry almost all of a ResNet's FLOPs: each 2x2 output tile
// is 16 products per channel pair instead of 36, so the GEMMs do 2.25x fewer multiply-adds.
#pragma once

#include "conv.h"

namespace matn {

/** Which algorithm 3x3 stride-1 convolutions use: Winograd where it applies (the default), or always im2col. */
enum class ConvAlgorithm { Auto = 0, Im2col = 1 };
ConvAlgorithm conv_algorithm();
void set_conv_algorithm(ConvAlgorithm a);

/**
 * The layers Winograd serves: 3x3, stride 1, no dilation, padding 1 on each side (output as large as the
 * input), at least 64 channels in and out and at least 8x8 pixels. Narrower layers (fmnist-cnn's) stay on
 * im2col: they are memory-bound, and their results stay the ones checked bit for bit against PyTorch. Smaller
 * images (a ResNet's 4x4x512 stage) too: with so few tiles per filter, transforming the filter (9.4 MB in,
 * 16.8 MB out at 512 channels, for every call) costs what the saved multiplies gain (measured at batch 64:
 * forward 21 ms against im2col's 21, input gradient 29 against 22).
 */
bool winograd_applies(const ConvGeom& g);

/** y = conv3x3(x, w) (+ bias) then the activation, for a geometry winograd_applies to. */
void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, Activation act, float* y);

/** dx = the input gradient of that convolution: a Winograd forward pass of dy with the flipped filter. */
void winograd_backprop_input(const ConvGeom& g, const float* dy, const float* w, float* dx);

}  // namespace matn
