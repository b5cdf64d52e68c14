#!/bin/sh
# Build-time check of the GPU image (docker/Dockerfile.gpu): the CUDA and cuDNN libraries libtensorflow 2.9.1
# (@tensorflow/tfjs-node-gpu 4.22) opens at run time are in the image under the names it asks for, and cuDNN
# is the release the build asked for. A wrong base image fails the build here, not the first GPU run.
#
#   sh docker/check-cuda-libs.sh CUDNN_PREFIX        e.g. 8.9 (the default base) or 8.1 (the CUDA 11.2 base)
#
# libtensorflow 2.9.1 was built against CUDA 11.2 / cuDNN 8.1 and opens these sonames, which every CUDA 11.x
# and cuDNN 8.x release keeps; CUDA 12 or cuDNN 9 renamed them, so they cannot work.
# For the test: LDCONFIG_P_OUTPUT replaces `ldconfig -p`, CUDNN_PACKAGE_VERSION replaces the libcudnn8
# package's version (test/docker/gpu-image.test.ts).
set -eu
want_cudnn="${1:?usage: check-cuda-libs.sh CUDNN_PREFIX (e.g. 8.9)}"
libs="${LDCONFIG_P_OUTPUT-$(ldconfig -p)}"
missing=""
for soname in libcudart.so.11.0 libcublas.so.11 libcublasLt.so.11 libcufft.so.10 libcurand.so.10 \
  libcusolver.so.11 libcusparse.so.11 libcudnn.so.8; do
  printf '%s\n' "$libs" | grep -q "^[[:space:]]*$soname " || missing="$missing $soname"
done
if [ -n "$missing" ]; then
  echo "check-cuda-libs: missing:$missing (libtensorflow 2.9.1 needs CUDA 11.x and cuDNN 8.x; is CUDA_IMAGE a -cudnn8- runtime image of CUDA 11?)" >&2
  exit 1
fi
version="${CUDNN_PACKAGE_VERSION-$(dpkg-query -W -f='${Version}' libcudnn8 2>/dev/null || true)}"
case "$version" in
  "$want_cudnn".*) ;;
  "")
    echo "check-cuda-libs: cannot tell the cuDNN version (no libcudnn8 package)" >&2
    exit 1 ;;
  *)
    echo "check-cuda-libs: the image has cuDNN $version, not $want_cudnn.x: set CUDNN_VERSION to a libcudnn8 version of NVIDIA's repository (e.g. 8.9.7.29-1+cuda11.8) or choose another CUDA_IMAGE" >&2
    exit 1 ;;
esac
echo "check-cuda-libs: CUDA 11 libraries and cuDNN $version present"
