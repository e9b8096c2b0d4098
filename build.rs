//! Link settings that let `cargo run`/`cargo test` binaries find libtorch without LD_LIBRARY_PATH, and see CUDA.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        // torch-sys found no libtorch, so it has failed already with its own message.
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");

    // What tch does not wrap, compiled against the same libtorch: precision and oneDNN switches
    // (src/ffi/precision.cpp) and a random generator per training run (src/ffi/rng.cpp).
    println!("cargo:rerun-if-changed=src/ffi/precision.cpp");
    println!("cargo:rerun-if-changed=src/ffi/rng.cpp");
    let include = Path::new(&lib).join("..").join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .file("src/ffi/precision.cpp")
        .file("src/ffi/rng.cpp")
        .compile("rnnlab_ffi");
    // rustc links with --as-needed: nothing in rnnlab calls into libtorch_cuda.so directly, so the linker would
    // drop it and CUDA would never register its kernels. Force it in when this libtorch has it.
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
        println!("cargo:rustc-cfg=rnnlab_libtorch_cuda");
    }
    println!("cargo:rustc-check-cfg=cfg(rnnlab_libtorch_cuda)");
}
