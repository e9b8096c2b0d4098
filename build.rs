//! Link settings that let `cargo run`/`cargo test` binaries find libtorch without LD_LIBRARY_PATH, and see CUDA.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        // torch-sys found no libtorch, so it has failed already with its own message.
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
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
