/// `HWC` bytes to a normalised `CHW` float tensor: `(x / 255 - mean) / std`,
/// computed in the same order as torchvision's `ToTensor` + `Normalize`.
pub fn normalized_chw(hwc: &[u8], size: u32, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let plane = size as usize * size as usize;
    let mut chw = vec![0f32; plane * 3];
    for (pixel, rgb) in hwc.chunks_exact(3).enumerate().take(plane) {
        for channel in 0..3 {
            chw[channel * plane + pixel] =
                (f32::from(rgb[channel]) / 255.0 - mean[channel]) / std[channel];
        }
    }
    chw
}
