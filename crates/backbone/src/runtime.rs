//! What libtorch this process loaded and what it can see: the facts `extract doctor`
//! prints, and the first thing to check when a GPU goes unused.

use std::fmt;
use std::path::{Path, PathBuf};

/// A snapshot of the loaded libtorch and the devices it sees.
#[derive(Debug, Clone)]
pub struct RuntimeReport {
    pub libtorch_version: Option<String>,
    /// Directory holding the `libtorch_cpu.so` this process mapped.
    pub libtorch_lib_dir: Option<PathBuf>,
    /// `libtorch_cuda.so` is mapped: the binary kept it despite `--as-needed`.
    pub libtorch_cuda_loaded: bool,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub cudnn_version: Option<i64>,
    pub cuda_runtime_version: Option<i64>,
    pub device_count: i64,
    pub device_names: Vec<String>,
    pub cpu_threads: i32,
    pub interop_threads: i32,
    pub mkl: bool,
    pub mkldnn: bool,
    pub openmp: bool,
}

impl RuntimeReport {
    pub fn inspect() -> Self {
        let mapped = mapped_libraries();
        let libtorch_lib_dir = mapped
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == "libtorch_cpu.so"))
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);
        let libtorch_cuda_loaded = mapped
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == "libtorch_cuda.so"));
        let cuda_available = tch::Cuda::is_available();
        let device_count = if cuda_available {
            tch::Cuda::device_count()
        } else {
            0
        };
        RuntimeReport {
            libtorch_version: libtorch_lib_dir.as_deref().and_then(libtorch_version),
            libtorch_lib_dir,
            libtorch_cuda_loaded,
            cuda_available,
            cudnn_available: cuda_available && tch::Cuda::cudnn_is_available(),
            cudnn_version: (cuda_available && tch::Cuda::cudnn_is_available())
                .then(tch::utils::version_cudnn),
            cuda_runtime_version: cuda_available.then(tch::utils::version_cudart),
            device_count,
            device_names: nvidia_device_names(),
            cpu_threads: tch::get_num_threads(),
            interop_threads: tch::get_num_interop_threads(),
            mkl: tch::utils::has_mkl(),
            mkldnn: tch::utils::has_mkldnn(),
            openmp: tch::utils::has_openmp(),
        }
    }
}

/// Paths of the shared objects mapped into this process (Linux `/proc/self/maps`).
fn mapped_libraries() -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut paths: Vec<PathBuf> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|p| p.contains(".so"))
        .map(PathBuf::from)
        .collect();
    paths.dedup();
    paths
}

/// libtorch records its version beside its `lib/`: `build-version` in the C++
/// distribution, `version.py` in the PyPI wheel.
fn libtorch_version(lib_dir: &Path) -> Option<String> {
    let root = lib_dir.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("build-version")) {
        return Some(text.trim().to_string());
    }
    let text = std::fs::read_to_string(root.join("version.py")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("__version__"))
        .map(|rest| {
            rest.trim_start_matches([' ', '=', ':'])
                .trim()
                .trim_matches('\'')
                .trim_matches('"')
                .to_string()
        })
        .map(|v| v.split('\'').next().unwrap_or(&v).to_string())
}

/// libtorch exposes no device names; the NVIDIA driver lists them in /proc.
fn nvidia_device_names() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc/driver/nvidia/gpus") else {
        return Vec::new();
    };
    let mut gpus: Vec<(String, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let info = std::fs::read_to_string(entry.path().join("information")).ok()?;
            let model = info
                .lines()
                .find_map(|l| l.strip_prefix("Model:"))?
                .trim()
                .to_string();
            Some((entry.file_name().to_string_lossy().into_owned(), model))
        })
        .collect();
    gpus.sort();
    gpus.into_iter().map(|(_, model)| model).collect()
}

impl fmt::Display for RuntimeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        writeln!(
            f,
            "libtorch version   {}",
            or_unknown(&self.libtorch_version)
        )?;
        writeln!(
            f,
            "libtorch loaded    {}",
            self.libtorch_lib_dir
                .as_ref()
                .map_or("unknown".into(), |p| p.display().to_string())
        )?;
        writeln!(
            f,
            "libtorch_cuda      {}",
            if self.libtorch_cuda_loaded {
                "linked and loaded"
            } else {
                "not loaded (CPU-only libtorch, or dropped by the linker)"
            }
        )?;
        writeln!(f, "CUDA available     {}", yes_no(self.cuda_available))?;
        if let Some(version) = self.cuda_runtime_version {
            writeln!(
                f,
                "CUDA runtime       {}.{}",
                version / 1000,
                (version % 1000) / 10
            )?;
        }
        writeln!(
            f,
            "cuDNN              {}",
            match self.cudnn_version {
                Some(v) => format!("yes ({v})"),
                None => yes_no(self.cudnn_available).to_string(),
            }
        )?;
        writeln!(f, "CUDA devices       {}", self.device_count)?;
        for (index, name) in self.device_names.iter().enumerate() {
            writeln!(f, "  cuda:{index}           {name}")?;
        }
        writeln!(
            f,
            "CPU threads        {} (inter-op {})",
            self.cpu_threads, self.interop_threads
        )?;
        write!(
            f,
            "CPU backends       MKL {}, oneDNN {}, OpenMP {}",
            yes_no(self.mkl),
            yes_no(self.mkldnn),
            yes_no(self.openmp)
        )
    }
}
