//! Device choice lives here and nowhere else.
//!
//! `cpu` is burn's pure-Rust `flex` backend (the default build). `wgpu[:N]` and `cuda[:N]`
//! exist when lfm-model is built with the `wgpu` / `cuda` features; every `lfm` command
//! takes `--device` and passes the string to [`parse_device`].

use burn::tensor::Device;

use crate::error::LfmError;

/// Devices this build can create, for help texts.
pub fn available() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v = vec!["cpu"];
    #[cfg(feature = "ndarray")]
    v.push("ndarray");
    #[cfg(feature = "wgpu")]
    v.push("wgpu[:N]");
    #[cfg(feature = "cuda")]
    v.push("cuda[:N]");
    v
}

fn index(spec: &str, s: &str) -> Result<Option<usize>, LfmError> {
    match s.split_once(':') {
        None => Ok(None),
        Some((_, n)) => {
            n.parse::<usize>().map(Some).map_err(|_| LfmError::Invalid(format!("bad device index in {spec:?}")))
        }
    }
}

/// Whether `device` is the CPU device (with or without autodiff), where host-side kernels
/// (lfm-model's fused ops, lfm-train's fused AdamW) can work on tensor memory directly.
pub fn is_cpu(device: &Device) -> bool {
    device.clone().inner() == Device::flex()
}

/// Parses `cpu`, `ndarray`, `wgpu[:N]` or `cuda[:N]` into a burn device.
pub fn parse_device(spec: &str) -> Result<Device, LfmError> {
    let kind = spec.split(':').next().unwrap_or("");
    let idx = index(spec, spec)?;
    let unavailable = |feature: &str| {
        LfmError::Invalid(format!(
            "device {spec:?} needs lfm built with `--features {feature}` (this build has: {})",
            available().join(", ")
        ))
    };
    match kind {
        "cpu" | "flex" => {
            if idx.is_some() {
                return Err(LfmError::Invalid(format!("device {spec:?}: the CPU device takes no index")));
            }
            Ok(Device::flex())
        }
        "ndarray" => {
            #[cfg(feature = "ndarray")]
            {
                #[allow(deprecated)]
                return Ok(Device::ndarray());
            }
            #[cfg(not(feature = "ndarray"))]
            Err(unavailable("ndarray"))
        }
        "wgpu" => {
            #[cfg(feature = "wgpu")]
            {
                use burn::tensor::DeviceKind;
                return Ok(Device::wgpu(match idx {
                    None => DeviceKind::DefaultDevice,
                    Some(n) => DeviceKind::DiscreteGpu(n),
                }));
            }
            #[cfg(not(feature = "wgpu"))]
            {
                let _ = idx;
                Err(unavailable("wgpu"))
            }
        }
        "cuda" => {
            #[cfg(feature = "cuda")]
            let found = Ok(Device::cuda(idx.unwrap_or(0)));
            #[cfg(not(feature = "cuda"))]
            let found = Err(unavailable("cuda"));
            found
        }
        _ => Err(LfmError::Invalid(format!("unknown device {spec:?} (expected one of: {})", available().join(", ")))),
    }
}

/// Parses a comma-separated device list (`cuda:0,cuda:1`) for data-parallel training. The
/// same device may repeat (`cpu,cpu`): each entry is one replica of the model.
pub fn parse_devices(spec: &str) -> Result<Vec<Device>, LfmError> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(LfmError::Invalid(format!("device list {spec:?} has an empty entry")));
    }
    parts.into_iter().map(parse_device).collect()
}

/// Memory the kernel reports as available to new allocations (`MemAvailable` in
/// /proc/meminfo), in bytes; `None` where that file does not exist or cannot be read.
pub fn available_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = s.lines().find(|l| l.starts_with("MemAvailable:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_garbage() {
        assert!(parse_device("cpu").is_ok());
        assert!(parse_device("cpu:1").is_err());
        assert!(parse_device("tpu").unwrap_err().to_string().contains("unknown device"));
        assert_eq!(parse_devices("cpu, cpu").unwrap().len(), 2);
        assert!(parse_devices("cpu,,cpu").is_err());
        #[cfg(not(feature = "cuda"))]
        assert!(parse_device("cuda:0").unwrap_err().to_string().contains("--features cuda"));
    }
}
