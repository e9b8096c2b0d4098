//! Link settings that let `cargo run`/`cargo test` binaries find libtorch without LD_LIBRARY_PATH, and see CUDA.
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=RNNLAB_NO_RPATH");
    println!("cargo:rerun-if-env-changed=RNNLAB_CUDA_INCLUDE");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    println!("cargo:rustc-check-cfg=cfg(rnnlab_libtorch_cuda)");
    println!("cargo:rustc-check-cfg=cfg(rnnlab_cuda_graphs)");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        // torch-sys found no libtorch, so it has failed already with its own message.
        return;
    };
    // RNNLAB_NO_RPATH=1: a binary to carry to another machine (scripts/build-portable.sh), which finds libtorch
    // through LD_LIBRARY_PATH there instead of a path on the build machine.
    let rpath = std::env::var_os("RNNLAB_NO_RPATH").is_none_or(|v| v.is_empty() || v == "0");
    if rpath {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }

    // What tch does not wrap, compiled against the same libtorch: precision and oneDNN switches
    // (src/ffi/precision.cpp), a random generator per training run (src/ffi/rng.cpp), host-to-device copies that
    // do not wait (src/ffi/transfer.cpp), autograd pieces (src/ffi/autograd.cpp), the Bernoulli head in one pass
    // (src/ffi/bernoulli.cpp) and, against a CUDA libtorch with the CUDA runtime headers at hand, CUDA graphs
    // (src/ffi/cuda_graph.cpp).
    println!("cargo:rerun-if-changed=src/ffi/precision.cpp");
    println!("cargo:rerun-if-changed=src/ffi/rng.cpp");
    println!("cargo:rerun-if-changed=src/ffi/transfer.cpp");
    println!("cargo:rerun-if-changed=src/ffi/autograd.cpp");
    println!("cargo:rerun-if-changed=src/ffi/bernoulli.cpp");
    println!("cargo:rerun-if-changed=src/ffi/guarded.h");
    println!("cargo:rerun-if-changed=src/ffi/cuda_graph.cpp");
    let include = Path::new(&lib).join("..").join("include");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        // bernoulli.cpp passes vectors to SLEEF in the registers of its callers' ISA, as SLEEF expects; gcc notes
        // that the older ABI differed, which concerns no caller here.
        .flag_if_supported("-Wno-psabi")
        .file("src/ffi/precision.cpp")
        .file("src/ffi/rng.cpp")
        .file("src/ffi/transfer.cpp")
        .file("src/ffi/autograd.cpp")
        .file("src/ffi/bernoulli.cpp");
    let cuda = Path::new(&lib).join("libtorch_cuda.so").exists();
    // The CUDA runtime library the graph shim calls directly (libtorch_cuda names it too, but the linker wants every
    // library a program calls on its own command line).
    let mut cudart = None;
    if cuda {
        match (cuda_include_dirs(Path::new(&lib)), cudart_library(Path::new(&lib))) {
            (Some(dirs), Some(found)) => {
                for dir in &dirs {
                    build.include(dir);
                }
                build.file("src/ffi/cuda_graph.cpp");
                println!("cargo:rustc-cfg=rnnlab_cuda_graphs");
                cudart = Some(found);
            }
            (dirs, found) => println!(
                "cargo:warning=building without CUDA graphs: this CUDA libtorch has no CUDA runtime {} beside it \
                 (looked in $RNNLAB_CUDA_INCLUDE / $RNNLAB_CUDA_LIB, the nvidia/*/ folders beside torch/, \
                 $CUDA_HOME and /usr/local/cuda)",
                match (dirs, found) {
                    (None, None) => {
                        "headers (cuda_runtime_api.h and crt/host_defines.h: pip's cuda-toolkit[cudart,crt]) \
                         or library (libcudart.so)"
                    }
                    (None, _) => {
                        "headers (cuda_runtime_api.h and crt/host_defines.h: pip's cuda-toolkit[cudart,crt])"
                    }
                    _ => "library (libcudart.so)",
                }
            ),
        }
    }
    build.compile("rnnlab_ffi");
    // rustc links with --as-needed: nothing in rnnlab calls into libtorch_cuda.so directly, so the linker would
    // drop it and CUDA would never register its kernels. Force it in when this libtorch has it.
    if cuda {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
        // cuda_graph.cpp calls the CUDA runtime (events, stream waits) directly.
        println!("cargo:rustc-cfg=rnnlab_libtorch_cuda");
    }
    if let Some((dir, file)) = cudart {
        println!("cargo:rustc-link-arg=-lc10_cuda");
        println!("cargo:rustc-link-arg=-L{}", dir.display());
        println!("cargo:rustc-link-arg=-l:{file}");
        if rpath {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
    }
}

/// The folder and file name of the CUDA runtime library (`libcudart.so`, or `libcudart.so.13` as the pip wheels
/// ship it) for a CUDA libtorch whose lib folder is `lib`; searched as [`cuda_include_dirs`] does, with
/// `$RNNLAB_CUDA_LIB` in place of `$RNNLAB_CUDA_INCLUDE` and `lib`/`lib64` in place of `include`.
fn cudart_library(lib: &Path) -> Option<(PathBuf, String)> {
    println!("cargo:rerun-if-env-changed=RNNLAB_CUDA_LIB");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(list) = std::env::var_os("RNNLAB_CUDA_LIB").filter(|v| !v.is_empty()) {
        dirs.extend(std::env::split_paths(&list));
    } else {
        let mut wheel: Vec<PathBuf> = std::fs::read_dir(lib.join("..").join("..").join("nvidia"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("lib"))
            .collect();
        wheel.sort();
        dirs.extend(wheel);
        let homes = std::env::var_os("CUDA_HOME").map(PathBuf::from);
        for home in homes.into_iter().chain([PathBuf::from("/usr/local/cuda")]) {
            dirs.push(home.join("lib64"));
            dirs.push(home.join("lib"));
        }
    }
    dirs.into_iter().find_map(|dir| {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n == "libcudart.so" || n.starts_with("libcudart.so."))
            .collect();
        // The unversioned name when present, else the shortest versioned one (libcudart.so.13 before .13.0.96).
        names.sort_by_key(|n| n.len());
        let file = names.into_iter().next()?;
        Some((dir, file))
    })
}

/// The include folders that hold the CUDA runtime headers (`cuda_runtime_api.h` and the `crt/` it includes) for a
/// CUDA libtorch whose lib folder is `lib`: `$RNNLAB_CUDA_INCLUDE` (a `:`-separated list) when set, else the pip
/// wheels' folders beside `torch/` (`site-packages/nvidia/cu13/include` for CUDA 13, `nvidia/cuda_runtime/include`
/// and its siblings for CUDA 12), else `$CUDA_HOME/include` or `/usr/local/cuda/include`.
fn cuda_include_dirs(lib: &Path) -> Option<Vec<PathBuf>> {
    // cuda_runtime_api.h includes crt/host_defines.h, which CUDA 13's pip wheels ship apart (nvidia-cuda-crt, the
    // `crt` extra of cuda-toolkit): both must be there.
    let complete = |dirs: &[PathBuf]| {
        ["cuda_runtime_api.h", "crt/host_defines.h"]
            .iter()
            .all(|h| dirs.iter().any(|d| d.join(h).is_file()))
    };
    if let Some(list) = std::env::var_os("RNNLAB_CUDA_INCLUDE").filter(|v| !v.is_empty()) {
        let dirs: Vec<PathBuf> = std::env::split_paths(&list).collect();
        return complete(&dirs).then_some(dirs);
    }
    // lib = <site-packages>/torch/lib
    let site = lib.join("..").join("..");
    let mut wheel_dirs: Vec<PathBuf> = std::fs::read_dir(site.join("nvidia"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("include"))
        .filter(|d| d.is_dir())
        .collect();
    wheel_dirs.sort();
    if complete(&wheel_dirs) {
        return Some(wheel_dirs);
    }
    let cuda_home = std::env::var_os("CUDA_HOME").map(PathBuf::from);
    cuda_home
        .into_iter()
        .chain([PathBuf::from("/usr/local/cuda")])
        .map(|d| d.join("include"))
        .find(|d| complete(std::slice::from_ref(d)))
        .map(|d| vec![d])
}
