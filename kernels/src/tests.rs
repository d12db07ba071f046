//! Every kernel against straightforward references over odd shapes.
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

use super::*;

pub(crate) fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Exact result of the int8 arithmetic the kernels implement, in f64: per scale group (a
/// block of 32, or 256 k for wide weights) the integer dot, times both scales.
fn int_reference(x: &[f32], m: usize, w: &PackedMatrix) -> Vec<f64> {
    let (n, k) = (w.n(), w.k());
    let a = QuantizedRows::quantize(x, m, k, w.group()).unwrap();
    let span = QK * w.group();
    let ng = k.div_ceil(span);
    // The weights' integers and scales, read once rather than once per row.
    let values: Vec<(i32, f32, f32)> = (0..n)
        .flat_map(|c| (0..k).map(move |kk| w.value(c, kk)))
        .collect();
    let mut out = vec![0f64; m * n];
    for r in 0..m {
        for c in 0..n {
            let mut acc = 0f64;
            for s in 0..ng {
                let (mut dot, mut asum) = (0i64, 0i64);
                let (mut ws, mut wm) = (0f32, 0f32);
                for kk in s * span..((s + 1) * span).min(k) {
                    let (q, d, m) = values[c * k + kk];
                    (ws, wm) = (d, m);
                    let x = a.q[r * ng * span + kk] as i64;
                    dot += q as i64 * x;
                    asum += x;
                }
                let da = a.d[r * ng + s] as f64;
                acc += dot as f64 * ws as f64 * da + wm as f64 * da * asum as f64;
            }
            out[r * n + c] = acc;
        }
    }
    out
}

fn f32_reference(x: &[f32], m: usize, w: &[f32], n: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0f64; m * n];
    for r in 0..m {
        for c in 0..n {
            out[r * n + c] = (0..k)
                .map(|i| x[r * k + i] as f64 * w[c * k + i] as f64)
                .sum();
        }
    }
    out
}

fn check_shape(m: usize, n: usize, k: usize, seed: u64) {
    let x = random(m * k, seed);
    let wf = random(n * k, seed + 1);
    let w = PackedMatrix::from_f32(&wf, n, k).unwrap();
    check_packed(&x, m, &w, &wf, 0.02);
    if k.is_multiple_of(QK * WIDE) {
        let wide = PackedMatrix::from_f32_wide(&wf, n, k).unwrap();
        assert_eq!(wide.group(), WIDE);
        check_packed(&x, m, &wide, &wf, 0.02);
    }
    if k.is_multiple_of(QK) {
        // The nibble formats, against the weights they hold (Q4 rounding is not what is tested).
        for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1] {
            let (bytes, deq) = candle_blocks(&wf, n, k, dtype);
            check_packed(&x, m, &packed_q4(dtype, &bytes, n, k), &deq, 0.02);
        }
        // Q5_0 both ways: five-bit tiles and int8 tiles.
        let (bytes, deq) = candle_blocks(&wf, n, k, GgmlDType::Q5_0);
        check_packed(
            &x,
            m,
            &PackedMatrix::from_q5_0(&bytes, n, k).unwrap(),
            &deq,
            0.02,
        );
        let int8 = PackedMatrix::from_q5_0_as_int8(&bytes, n, k).unwrap();
        check_packed(&x, m, &int8, &deq, 0.02);
    }
}

fn packed_q4(dtype: GgmlDType, bytes: &[u8], n: usize, k: usize) -> PackedMatrix {
    match dtype {
        GgmlDType::Q4_0 => PackedMatrix::from_q4_0(bytes, n, k).unwrap(),
        _ => PackedMatrix::from_q4_1(bytes, n, k).unwrap(),
    }
}

/// Every kernel against the exact integer arithmetic and, loosely, against the f32 product
/// with the weights `wf` (what `w` holds, up to its rounding).
pub(crate) fn check_packed(x: &[f32], m: usize, w: &PackedMatrix, wf: &[f32], tol: f64) {
    let (n, k) = (w.n(), w.k());
    // A prompt on four-bit weights runs on them widened to wide int8 (on every kernel): that
    // is the arithmetic. Five-bit ones widen to the same values.
    let exact = if widen::widens(Kernel::Portable, w, m) {
        int_reference(x, m, &widen::tests::widened(w, Kernel::Portable))
    } else {
        int_reference(x, m, w)
    };
    let dense = f32_reference(x, m, wf, n, k);
    // Quantisation error of a dot of k terms of size ≤ 1: well under 1% of √k.
    let loose = tol * (k as f64).sqrt();
    let mut kernels = Kernel::available().to_vec();
    kernels.push(Kernel::selected());
    // With AVX2, four-bit prompt weights are read as bytes, with their own arithmetic (five-bit
    // ones too, with the widened arithmetic's results).
    #[cfg(target_arch = "x86_64")]
    let bytes = (w.format() == Format::Nib4 && widen::bytes::applies(Kernel::Avx2, w, m))
        .then(|| widen::bytes::tests::reference(x, m, w));
    #[cfg(not(target_arch = "x86_64"))]
    let bytes: Option<Vec<f64>> = None;
    for kernel in kernels {
        let mut out = vec![f32::NAN; m * n];
        matmul_with(kernel, x, m, w, &mut out).unwrap();
        let format = w.format();
        let exact = match &bytes {
            Some(bytes) if kernel == Kernel::Avx2 => bytes,
            _ => &exact,
        };
        for i in 0..m * n {
            let (got, want) = (out[i] as f64, exact[i]);
            assert!(
                (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                "{kernel:?} {format:?} m {m} n {n} k {k} at {i}: {got} vs integer reference {want}"
            );
            assert!(
                (got - dense[i]).abs() <= loose,
                "{kernel:?} {format:?} m {m} n {n} k {k} at {i}: {got} vs f32 reference {}",
                dense[i]
            );
        }
    }
}

#[test]
fn odd_shapes_match_the_references() {
    for &m in &[1, 2, 3, 4, 5, 7, 9] {
        for &n in &[1, 15, 16, 17, 33, 64] {
            for &k in &[31, 32, 33, 96, 100] {
                check_shape(m, n, k, (m * 1000 + n * 10 + k) as u64);
            }
        }
    }
}

#[test]
fn prompt_sized_shapes_match_the_references() {
    check_shape(513, 40, 576, 7);
    check_shape(64, 200, 576, 8);
    check_shape(13, 96, 1536, 9);
    // Wide int8 (one scale per 256 k) over several groups, any number of rows.
    for (m, n, k) in [(1, 48, 256), (5, 33, 512), (9, 17, 768), (150, 64, 1536)] {
        check_shape(m, n, k, (m * 13 + n) as u64);
    }
    // Around the AMX kernel's groups of 16 rows, with a lone last tile.
    for (m, n, k) in [
        (16, 16, 32),
        (17, 48, 64),
        (31, 33, 96),
        (32, 80, 160),
        (47, 17, 100),
    ] {
        check_shape(m, n, k, (m * 7 + n) as u64);
    }
}

/// The AMX kernel gives bit for bit the AVX-512 VNNI kernel's results, for every format and
/// any number of rows: which rows the tiles take (a prompt in chunks, a cached prefix, a
/// decode step) does not change a result.
#[test]
fn amx_results_are_the_vnni_kernel_bits() {
    if !Kernel::available().contains(&Kernel::Amx) {
        return;
    }
    // k a multiple of 256: wide int8 (Q6_K's form) and Q4_K, widened for 16 rows or more.
    for (i, &(m, n, k)) in [
        (16, 16, 32),
        (48, 200, 576),
        (37, 33, 96),
        (150, 136, 896),
        (16, 16, 256),
        (79, 48, 512),
        (150, 40, 1536),
        (200, 33, 2304),
    ]
    .iter()
    .enumerate()
    {
        let x = random(m * k, 500 + i as u64);
        let wf = random(n * k, 600 + i as u64);
        let (q4, _) = candle_blocks(&wf, n, k, GgmlDType::Q4_1);
        let (q5, _) = candle_blocks(&wf, n, k, GgmlDType::Q5_0);
        let mut formats = vec![
            PackedMatrix::from_f32(&wf, n, k).unwrap(),
            PackedMatrix::from_q4_1(&q4, n, k).unwrap(),
            PackedMatrix::from_q5_0(&q5, n, k).unwrap(),
        ];
        if k % (QK * WIDE) == 0 {
            let (q4k, _) = candle_blocks(&wf, n, k, GgmlDType::Q4K);
            formats.push(PackedMatrix::from_f32_wide(&wf, n, k).unwrap());
            formats.push(PackedMatrix::from_q4_k(&q4k, n, k).unwrap());
        }
        for w in formats {
            let mut vnni = vec![f32::NAN; m * n];
            let mut amx = vec![f32::NAN; m * n];
            matmul_with(Kernel::Avx512Vnni, &x, m, &w, &mut vnni).unwrap();
            matmul_with(Kernel::Amx, &x, m, &w, &mut amx).unwrap();
            let differ = vnni
                .iter()
                .zip(&amx)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differ,
                0,
                "{:?} (group {}) m {m} n {n} k {k}: {differ} values differ",
                w.format(),
                w.group()
            );
        }
    }
}

/// Where the CPU lists AMX-INT8 (Linux's /proc/cpuinfo), the AMX kernel is offered and
/// selected: a detection or permission failure would silently leave prompts on AVX-512.
#[test]
fn amx_is_offered_where_the_cpu_has_it() {
    let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
        return;
    };
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let has = |f: &str| flags.contains(&f);
    let amx =
        has("amx_tile") && has("amx_int8") && Kernel::available().contains(&Kernel::Avx512Vnni);
    assert_eq!(
        Kernel::available().contains(&Kernel::Amx),
        amx,
        "flags: {flags:?}"
    );
    if amx && !fast_kernels_disabled() && std::env::var_os("AMA_NO_AMX").is_none() {
        assert_eq!(Kernel::selected(), Kernel::Amx);
    }
}

#[test]
fn random_shapes_match_the_references() {
    // A property over random shapes: every kernel equals the int8 reference.
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for case in 0..40 {
        let m = rng.random_range(1..40);
        let n = rng.random_range(1..80);
        let k = rng.random_range(1..200);
        check_shape(m, n, k, 10_000 + case);
    }
}

#[test]
fn zero_and_large_activations() {
    let (m, n, k) = (3, 20, 64);
    let mut x = vec![0f32; m * k];
    x[k + 5] = 1e6; // row 1: one huge value, row 0 and 2 zero
    let wf = random(n * k, 3);
    let int8 = PackedMatrix::from_f32(&wf, n, k).unwrap();
    let (bytes, deq) = candle_blocks(&wf, n, k, GgmlDType::Q4_1);
    let nib = PackedMatrix::from_q4_1(&bytes, n, k).unwrap();
    let (bytes5, deq5) = candle_blocks(&wf, n, k, GgmlDType::Q5_0);
    let nib5 = PackedMatrix::from_q5_0(&bytes5, n, k).unwrap();
    for (w, wf) in [(&int8, &wf), (&nib, &deq), (&nib5, &deq5)] {
        for &kernel in Kernel::available() {
            let mut out = vec![f32::NAN; m * n];
            matmul_with(kernel, &x, m, w, &mut out).unwrap();
            for c in 0..n {
                assert_eq!(out[c], 0.0);
                assert_eq!(out[2 * n + c], 0.0);
                let want = 1e6 * wf[c * k + 5] as f64;
                assert!((out[n + c] as f64 - want).abs() <= 0.01 * 1e6, "{kernel:?}");
            }
        }
    }
}

pub(crate) fn candle_blocks(
    wf: &[f32],
    n: usize,
    k: usize,
    dtype: GgmlDType,
) -> (Vec<u8>, Vec<f32>) {
    let t = Tensor::from_vec(wf.to_vec(), (n, k), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&t, dtype).unwrap();
    let deq = q
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    (q.data().unwrap().into_owned(), deq)
}

#[test]
fn gguf_blocks_unpack_exactly() {
    let (n, k) = (37, 96);
    let wf = random(n * k, 11);
    for dtype in [
        GgmlDType::Q8_0,
        GgmlDType::Q5_0,
        GgmlDType::Q4_0,
        GgmlDType::Q4_1,
    ] {
        let (bytes, deq) = candle_blocks(&wf, n, k, dtype);
        let w = match dtype {
            GgmlDType::Q8_0 => PackedMatrix::from_q8_0(&bytes, n, k).unwrap(),
            GgmlDType::Q5_0 => PackedMatrix::from_q5_0(&bytes, n, k).unwrap(),
            _ => packed_q4(dtype, &bytes, n, k),
        };
        let want_format = match dtype {
            GgmlDType::Q8_0 => Format::Int8,
            GgmlDType::Q5_0 => Format::Nib5,
            _ => Format::Nib4,
        };
        assert_eq!(w.format(), want_format);
        for c in 0..n {
            for i in 0..k {
                let (q, d, m) = w.value(c, i);
                assert_eq!(q as f32 * d + m, deq[c * k + i], "{dtype:?} at {c},{i}");
            }
        }
        if dtype == GgmlDType::Q5_0 {
            let int8 = PackedMatrix::from_q5_0_as_int8(&bytes, n, k).unwrap();
            assert_eq!(int8.format(), Format::Int8);
            for c in 0..n {
                for i in 0..k {
                    let (q, d, m) = int8.value(c, i);
                    assert_eq!(q as f32 * d + m, deq[c * k + i], "Q5_0 as int8 at {c},{i}");
                }
            }
        }
        // And the product against the dequantised weights.
        let m = 7;
        let x = random(m * k, 12);
        let dense = f32_reference(&x, m, &deq, n, k);
        let mut out = vec![0f32; m * n];
        matmul(&x, m, &w, &mut out).unwrap();
        for i in 0..m * n {
            assert!((out[i] as f64 - dense[i]).abs() < 0.02 * (k as f64).sqrt());
        }
    }
}

#[test]
fn shape_errors_are_reported() {
    let w = PackedMatrix::from_f32(&random(16 * 32, 1), 16, 32).unwrap();
    let mut out = vec![0f32; 16];
    assert!(matmul(&[0.0; 31], 1, &w, &mut out).is_err());
    assert!(matmul(&[0.0; 32], 1, &w, &mut out[..15]).is_err());
    assert!(PackedMatrix::from_q8_0(&[0; 33], 1, 32).is_err());
    assert!(PackedMatrix::from_q4_0(&[0; 18], 1, 33).is_err());
    assert!(PackedMatrix::from_q4_1(&[0; 18], 1, 32).is_err());
    assert!(PackedMatrix::from_q5_0(&[0; 21], 1, 32).is_err());
    assert!(PackedMatrix::from_f32(&[0.0; 3], 2, 2).is_err());
}

#[test]
fn disabling_fast_kernels_selects_the_portable_one() {
    if fast_kernels_disabled() {
        assert_eq!(Kernel::selected(), Kernel::Portable);
    } else {
        assert_eq!(Kernel::selected(), *Kernel::available().last().unwrap());
    }
}

/// Each kernel's detection checks every feature its functions enable: a function compiled for
/// a feature the CPU lacks would fault (SIGILL) instead of falling back.
#[test]
fn detection_covers_every_enabled_target_feature() {
    let sources = [
        (Kernel::Avx2, include_str!("avx2.rs")),
        (Kernel::Avx512Vnni, include_str!("avx512.rs")),
        (Kernel::Avx512Vnni, include_str!("attention/mod.rs")),
        (Kernel::Amx, include_str!("amx/mod.rs")),
        (Kernel::Amx, include_str!("amx/wide.rs")),
        (Kernel::Avx2, include_str!("widen/avx2.rs")),
        (Kernel::Avx2, include_str!("widen/bytes.rs")),
        (Kernel::Avx512Vnni, include_str!("widen.rs")),
    ];
    let mut seen = 0;
    for (kernel, source) in sources {
        for line in source.lines() {
            let Some(rest) = line.split("target_feature(enable = \"").nth(1) else {
                continue;
            };
            let features = rest.split('"').next().unwrap_or("");
            for feature in features.split(',') {
                seen += 1;
                assert!(
                    kernel.required_features().contains(&feature.trim()),
                    "{feature} is enabled in {kernel:?} code but not detected: {line}"
                );
            }
        }
    }
    assert!(
        seen > 10,
        "the sources' target features were not found ({seen})"
    );
    // Everything the AVX2 kernel needs, the AVX-512 one checks as well.
    for f in Kernel::Avx2.required_features() {
        assert!(Kernel::Avx512Vnni.required_features().contains(f));
    }
}

/// The threads quantising their share of the rows give the one-thread values.
#[test]
fn quantising_in_parallel_gives_the_same_rows() {
    for (m, k, group) in [
        (37, 8960, WIDE),
        (16, 1536, WIDE),
        (9, 576, 1),
        (3, 256, WIDE),
    ] {
        let x = random(m * k, 7);
        let one = QuantizedRows::quantize(&x, m, k, group).unwrap();
        let both = QuantizedRows::quantize_parallel(&x, m, k, group).unwrap();
        assert_eq!(&one.q[..], &both.q[..], "{m} × {k}");
        assert_eq!(one.d, both.d, "{m} × {k}");
        assert_eq!(one.corr, both.corr, "{m} × {k}");
    }
}

mod throughput;
