// IEEE float32 on CUDA for everything libtorch runs in this process, TorchScript
// modules included. PyTorch's default lets cuDNN convolutions use TF32 (10-bit
// mantissa) for float32 tensors; tch 0.24 exposes no switch for it, so this
// one-function shim calls ATen's. The native EfficientNet also asks for IEEE per
// convolution (allow_tf32 = false); an exported module's convolutions and
// matmuls only obey the global setting.
#include <ATen/Context.h>

extern "C" {

void effprobe_set_cuda_fp32_ieee(int ieee) {
  auto& context = at::globalContext();
  const auto precision = ieee ? at::Float32Precision::IEEE : at::Float32Precision::TF32;
  for (auto op : {at::Float32Op::CONV, at::Float32Op::MATMUL, at::Float32Op::RNN}) {
    context.setFloat32Precision(at::Float32Backend::CUDA, op, precision);
  }
}

int effprobe_cuda_fp32_is_ieee() {
  auto& context = at::globalContext();
  for (auto op : {at::Float32Op::CONV, at::Float32Op::MATMUL, at::Float32Op::RNN}) {
    if (context.float32Precision(at::Float32Backend::CUDA, op) != at::Float32Precision::IEEE) {
      return 0;
    }
  }
  return 1;
}

}
