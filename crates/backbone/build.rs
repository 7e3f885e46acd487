//! Link-time fixes for libtorch (rpath, libtorch_cuda kept): see libtorch_link.rs,
//! shared with the extract and tune binaries; here they serve the crate's tests.
//! And the C++ shims for what tch does not expose: src/fp32.cpp (ATen's float32
//! precision switch) and src/frozen_module.cpp (`torch.jit.freeze` of a module).
mod libtorch_link {
    include!("libtorch_link.rs");
    pub fn run() {
        link_libtorch();
    }
}

fn main() {
    libtorch_link::run();
    println!("cargo:rerun-if-changed=src/fp32.cpp");
    println!("cargo:rerun-if-changed=src/frozen_module.cpp");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!("torch-sys did not say where libtorch is (DEP_TCH_LIBTORCH_LIB)");
    };
    let root = std::path::Path::new(&lib_dir)
        .parent()
        .expect("libtorch's lib/ has a parent")
        .to_path_buf();
    cc::Build::new()
        .cpp(true)
        .file("src/fp32.cpp")
        .file("src/frozen_module.cpp")
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        // PyTorch's wheels and libtorch builds since 2.8 use the C++11 ABI only.
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .warnings(false)
        .compile("effprobe_shims");
}
