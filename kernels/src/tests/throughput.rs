//! How fast each kernel multiplies (an ignored test: a benchmark that prints figures).
use candle_core::quantized::GgmlDType;

use super::{candle_blocks, random};
use crate::*;

/// Throughput of each kernel on the model's shapes (run with `--ignored --nocapture`);
/// `KERNEL_SHAPES=m:n:k,...` picks other shapes, `KERNEL_ONLY=name` the kernels whose name
/// (as printed, e.g. `Avx512Vnni`) contains it.
#[test]
#[ignore]
fn kernel_throughput() {
    let defaults = [
        (512, 576 + 2 * 192, 576),
        (512, 3072, 576),
        (512, 576, 1536),
        (150, 4864, 896),
        (32, 3072, 576),
        (1, 3072, 576),
        (1, 49152, 576),
        // Qwen2.5 1.5B, a 300-token prompt per thread pair: Q/K/V, gate/up, down; a decode step.
        (300, 1536 + 2 * 256, 1536),
        (300, 2 * 8960, 1536),
        (300, 1536, 8960),
        (1, 2 * 8960, 1536),
    ];
    let chosen: Vec<(usize, usize, usize)> = std::env::var("KERNEL_SHAPES")
        .map(|v| {
            v.split(',')
                .filter_map(|s| {
                    let d: Vec<usize> = s.split(':').filter_map(|x| x.parse().ok()).collect();
                    (d.len() == 3).then(|| (d[0], d[1], d[2]))
                })
                .collect()
        })
        .unwrap_or_else(|_| defaults.to_vec());
    for &(m, n, k) in &chosen {
        let x = random(m * k, 1);
        let wf = random(n * k, 2);
        let (bytes, _) = candle_blocks(&wf, n, k, GgmlDType::Q4_1);
        let (bytes5, _) = candle_blocks(&wf, n, k, GgmlDType::Q5_0);
        let int8 = PackedMatrix::from_f32(&wf, n, k).unwrap();
        let nib = PackedMatrix::from_q4_1(&bytes, n, k).unwrap();
        let nib5 = PackedMatrix::from_q5_0(&bytes5, n, k).unwrap();
        let wide = PackedMatrix::from_f32_wide(&wf, n, k).unwrap();
        let q4k = (k % (QK * WIDE) == 0).then(|| {
            let (bytes, _) = candle_blocks(&wf, n, k, GgmlDType::Q4K);
            PackedMatrix::from_q4_k(&bytes, n, k).unwrap()
        });
        let mut out = vec![0f32; m * n];
        let only = std::env::var("KERNEL_ONLY").unwrap_or_default();
        let kernels = Kernel::available()
            .iter()
            .copied()
            .filter(|k| format!("{k:?}").contains(&only));
        for (kernel, w) in kernels.flat_map(|kern| {
            let mut v = vec![(kern, &int8), (kern, &nib), (kern, &nib5)];
            if wide.group() > 1 {
                v.push((kern, &wide));
            }
            if let Some(q4k) = &q4k {
                v.push((kern, q4k));
            }
            v
        }) {
            // The fastest of several timed runs (of `inner` calls each): the machine is shared,
            // and the least disturbed run is the kernel's own speed.
            let (runs, inner) = if m == 1 { (20, 20) } else { (9, 1) };
            matmul_with(kernel, &x, m, w, &mut out).unwrap();
            let mut s = f64::INFINITY;
            for _ in 0..runs {
                let t = std::time::Instant::now();
                for _ in 0..inner {
                    matmul_with(kernel, &x, m, w, &mut out).unwrap();
                }
                s = s.min(t.elapsed().as_secs_f64() / inner as f64);
            }
            // Q4_K is Nib4 per 32 too: named by its own type.
            let format = if q4k.as_ref().is_some_and(|q| std::ptr::eq(q, w)) {
                "Q4_K".to_string()
            } else {
                format!("{:?}/{}", w.format(), w.group() * QK)
            };
            println!(
                "{kernel:?} {format} m {m} n {n} k {k}: {:.3} ms, {:.1} GMAC/s, {:.1} GB/s of weights",
                s * 1e3,
                (m * n * k) as f64 / s / 1e9,
                w.size_bytes() as f64 / s / 1e9
            );
        }
    }
}
