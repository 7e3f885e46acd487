// Link-time fixes for libtorch that torch-sys leaves to its users.
//
// * rpath: the `extract` and `tune-train` binaries must find libtorch at run time without the user
//   exporting `LD_LIBRARY_PATH`.
// * `libtorch_cuda`: nothing in our code references a CUDA symbol, so under the
//   default `--as-needed` the linker drops the library and CUDA is silently
//   unavailable at run time (tch issue 980). `--no-as-needed` keeps it.

use std::path::Path;

#[allow(dead_code)]
fn main() {
    link_libtorch();
}

fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib_dir = Path::new(&lib_dir);
    let lib_dir = lib_dir
        .canonicalize()
        .unwrap_or_else(|_| lib_dir.to_path_buf());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    println!(
        "cargo:rustc-env=EFFPROBE_LIBTORCH_LIB={}",
        lib_dir.display()
    );
    let cuda_libs: Vec<&str> = ["torch_cuda", "c10_cuda"]
        .into_iter()
        .filter(|name| lib_dir.join(format!("lib{name}.so")).exists())
        .collect();
    if !cuda_libs.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        for name in cuda_libs {
            println!("cargo:rustc-link-arg=-l{name}");
        }
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
