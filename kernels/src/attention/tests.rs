//! Attention against a direct computation, on every available instruction set.
use super::*;
use crate::Kernel;

#[test]
fn attention_matches_a_direct_computation() {
    // Odd sizes: 3 query heads per kv head, head_dim 12, 70 new rows after 5 cached;
    // SmolLM2's heads (9 on 3, head_dim 64) at a prompt and at a decode step.
    for (n_head, n_kv_head, hd, pos, s) in [
        (6, 2, 12, 5, 70),
        (9, 3, 64, 0, 33),
        (9, 3, 64, 40, 1),
        (4, 4, 32, 0, 1),
        // Decode steps whose keys split into several runs (merged softmax), a last
        // partial run, a head size that is not a multiple of 16, 8 query heads per kv head.
        (9, 3, 64, 511, 1),
        (9, 3, 64, 700, 1),
        (6, 2, 12, 200, 1),
        (8, 1, 64, 130, 1),
    ] {
        check_attention(n_head, n_kv_head, hd, pos, s);
    }
}

fn check_attention(n_head: usize, n_kv_head: usize, hd: usize, pos: usize, s: usize) {
    let total = pos + s;
    let f = |i: usize| ((i * 7919 % 1000) as f32 / 500.0) - 1.0;
    let q: Vec<f32> = (0..s * n_head * hd).map(f).collect();
    let k: Vec<f32> = (0..total * n_kv_head * hd).map(|i| f(i + 3)).collect();
    let v: Vec<f32> = (0..total * n_kv_head * hd).map(|i| f(i + 11)).collect();
    let mut out = vec![0f32; s * n_head * hd];
    let capacity = total.div_ceil(16) * 16;
    let mut k_t = vec![f32::NAN; n_kv_head * hd * capacity];
    for j in 0..total {
        for kvh in 0..n_kv_head {
            for d in 0..hd {
                k_t[key_index(j, kvh, d, n_kv_head, hd)] = k[j * n_kv_head * hd + kvh * hd + d];
            }
        }
    }
    // Past the causal length: garbage but finite (as a reused cache holds).
    for x in k_t.iter_mut().filter(|x| x.is_nan()) {
        *x = 1e3;
    }
    let sh = AttnShape {
        s,
        pos,
        n_head,
        n_kv_head,
        head_dim: hd,
    };
    let mut portable = vec![0f32; s * n_head * hd];
    attention_with(Kernel::Portable, &q, &k_t, &v, sh, &mut portable);
    for &kernel in Kernel::available() {
        attention_with(kernel, &q, &k_t, &v, sh, &mut out);
        check_output(&q, &k, &v, &out, sh);
        // AVX2's explicit loops multiply and add in the plain code's order, without fusing:
        // the same bits.
        if kernel == Kernel::Avx2 {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&out),
                bits(&portable),
                "{n_head}/{n_kv_head} × {hd}, {pos} + {s}"
            );
        }
    }
}

fn check_output(q: &[f32], k: &[f32], v: &[f32], out: &[f32], sh: AttnShape) {
    let AttnShape {
        s,
        pos,
        n_head,
        n_kv_head,
        head_dim: hd,
        ..
    } = sh;
    let (qd, kd) = (n_head * hd, n_kv_head * hd);
    for i in 0..s {
        for h in 0..n_head {
            let kvh = h / (n_head / n_kv_head);
            let sc: Vec<f64> = (0..=pos + i)
                .map(|j| {
                    (0..hd)
                        .map(|d| q[i * qd + h * hd + d] as f64 * k[j * kd + kvh * hd + d] as f64)
                        .sum::<f64>()
                        / (hd as f64).sqrt()
                })
                .collect();
            let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = sc.iter().map(|x| (x - m).exp()).sum();
            for d in 0..hd {
                let want: f64 = sc
                    .iter()
                    .enumerate()
                    .map(|(j, x)| (x - m).exp() / z * v[j * kd + kvh * hd + d] as f64)
                    .sum();
                let got = out[i * qd + h * hd + d] as f64;
                assert!((got - want).abs() < 1e-4, "row {i} head {h} dim {d}");
            }
        }
    }
}

mod bench {
    use super::*;

    /// Attention time at decode and prefill shapes (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn attention_throughput() {
        for &(s, pos) in &[(1usize, 64usize), (1, 512), (512, 0)] {
            let (n_head, n_kv_head, hd) = (9, 3, 64);
            let capacity = 1024;
            let q = vec![0.01f32; s * n_head * hd];
            let k_t = vec![0.02f32; n_kv_head * hd * capacity];
            let v = vec![0.03f32; capacity * n_kv_head * hd];
            let mut out = vec![0f32; s * n_head * hd];
            let sh = AttnShape {
                s,
                pos,
                n_head,
                n_kv_head,
                head_dim: hd,
            };
            let reps = if s == 1 { 2000 } else { 10 };
            let t = std::time::Instant::now();
            for _ in 0..reps {
                attention(&q, &k_t, &v, sh, &mut out);
            }
            println!(
                "s {s} pos {pos}: {:.1} µs per call",
                t.elapsed().as_secs_f64() / reps as f64 * 1e6
            );
        }
    }
}
