// An exported module frozen for the CPU, as PyTorch users run theirs
// (`torch.jit.freeze`): parameters become constants, BatchNorm folds into the
// convolution before it, and the graph is specialised. tch 0.24 has no binding
// for it, and its CModule does not expose the module it wraps, so this loads the
// file, freezes it and hands the frozen module back serialised; Rust loads those
// bytes with CModule::load_data. The module's file (and so its identity) is
// untouched.
#include <torch/script.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

extern "C" {

// 0, a malloc'd buffer in *bytes (*length bytes) and the module's parameter
// count before freezing (frozen, they are constants) on success; 1 and a
// malloc'd message in *error otherwise. `dtype` is ATen's ScalarType (6: float32).
int effprobe_frozen_module(const char* path, int dtype, char** bytes, size_t* length,
                           int64_t* parameters, char** error) {
  try {
    auto module = torch::jit::load(path, c10::Device(c10::kCPU));
    module.eval();
    *parameters = 0;
    for (const auto& parameter : module.parameters()) {
      *parameters += parameter.numel();
    }
    const auto scalar = static_cast<c10::ScalarType>(dtype);
    if (scalar != c10::kFloat) {
      module.to(scalar);
    }
    auto frozen = torch::jit::freeze(module);
    std::ostringstream out;
    frozen.save(out);
    const std::string serialised = out.str();
    *bytes = static_cast<char*>(std::malloc(serialised.size()));
    if (*bytes == nullptr) {
      *error = strdup("out of memory");
      return 1;
    }
    std::memcpy(*bytes, serialised.data(), serialised.size());
    *length = serialised.size();
    return 0;
  } catch (const std::exception& e) {
    *error = strdup(e.what());
    return 1;
  }
}

void effprobe_free(void* pointer) { std::free(pointer); }
}
