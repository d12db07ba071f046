//! Choosing the next token from logits: repetition penalty, then greedy or temperature
//! sampling restricted by top-k and top-p, with a seeded generator (same seed, same output).
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::GenerateParams;

pub struct Sampler {
    temperature: f64,
    top_k: Option<usize>,
    top_p: Option<f64>,
    repeat_penalty: f32,
    rng: StdRng,
}

impl Sampler {
    pub fn new(params: &GenerateParams) -> Self {
        Self {
            temperature: params.temperature,
            top_k: params.top_k.filter(|&k| k > 0),
            top_p: params.top_p.filter(|&p| p > 0.0 && p < 1.0),
            repeat_penalty: params.repeat_penalty,
            rng: StdRng::seed_from_u64(params.seed),
        }
    }

    /// Whether the choice depends on the logits alone (no random draw): then a drafted
    /// continuation can be checked against it ([`crate::llm::engine`]'s prompt lookup).
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || !self.temperature.is_finite()
    }

    /// Picks a token id. `previous` are the tokens the repetition penalty applies to.
    pub fn sample(&mut self, logits: &mut [f32], previous: &[u32]) -> u32 {
        if self.repeat_penalty.is_finite()
            && self.repeat_penalty > 0.0
            && (self.repeat_penalty - 1.0).abs() > f32::EPSILON
        {
            let mut seen = std::collections::HashSet::new();
            for &id in previous {
                if let Some(l) = logits.get_mut(id as usize) {
                    if seen.insert(id) {
                        // As in llama.cpp / HF: shrink positive logits, grow negative ones.
                        *l = if *l >= 0.0 {
                            *l / self.repeat_penalty
                        } else {
                            *l * self.repeat_penalty
                        };
                    }
                }
            }
        }
        if self.temperature <= 0.0 || !self.temperature.is_finite() {
            return argmax(logits);
        }
        // Candidates sorted by logit, best first; NaN logits never win.
        let mut idx: Vec<u32> = (0..logits.len() as u32)
            .filter(|&i| !logits[i as usize].is_nan())
            .collect();
        if idx.is_empty() {
            return 0;
        }
        idx.sort_unstable_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
        if let Some(k) = self.top_k {
            idx.truncate(k.max(1));
        }
        let max = logits[idx[0] as usize] as f64;
        let mut probs: Vec<f64> = idx
            .iter()
            .map(|&i| ((logits[i as usize] as f64 - max) / self.temperature).exp())
            .collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if let Some(top_p) = self.top_p {
            // Smallest prefix whose mass reaches top_p (at least one token).
            let mut cum = 0.0;
            let mut keep = probs.len();
            for (n, p) in probs.iter().enumerate() {
                cum += p;
                if cum >= top_p {
                    keep = n + 1;
                    break;
                }
            }
            probs.truncate(keep);
            idx.truncate(keep);
        }
        let total: f64 = probs.iter().sum();
        let mut r = self.rng.random::<f64>() * total;
        for (i, p) in idx.iter().zip(&probs) {
            r -= p;
            if r <= 0.0 {
                return *i;
            }
        }
        idx[idx.len() - 1]
    }
}

/// Index of the largest logit (the first one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] || logits[best].is_nan() {
            best = i;
        }
    }
    best as u32
}

/// The probability softmax gives token `id` (0 for an id past the logits or NaN ones).
pub fn probability(logits: &[f32], id: u32) -> f32 {
    let Some(&own) = logits.get(id as usize) else {
        return 0.0;
    };
    let max = logits
        .iter()
        .copied()
        .filter(|l| !l.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = logits
        .iter()
        .filter(|l| !l.is_nan())
        .map(|l| (l - max).exp())
        .sum();
    let p = (own - max).exp() / total;
    if p.is_finite() {
        p
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_are_the_softmax() {
        let logits = [0.0f32, (3.0f32).ln(), f32::NAN];
        assert!((probability(&logits, 0) - 0.25).abs() < 1e-6);
        assert!((probability(&logits, 1) - 0.75).abs() < 1e-6);
        assert_eq!(probability(&logits, 2), 0.0);
        assert_eq!(probability(&logits, 7), 0.0);
    }

    fn params(t: f64) -> GenerateParams {
        GenerateParams {
            temperature: t,
            ..GenerateParams::default()
        }
    }

    #[test]
    fn greedy_takes_the_maximum() {
        let mut s = Sampler::new(&params(0.0));
        assert_eq!(s.sample(&mut [0.1, 3.0, -1.0, 2.9], &[]), 1);
    }

    #[test]
    fn repeat_penalty_changes_the_greedy_choice() {
        let mut p = params(0.0);
        p.repeat_penalty = 1.5;
        let mut s = Sampler::new(&p);
        // 3.0 / 1.5 = 2.0 < 2.9: the repeated token loses.
        assert_eq!(s.sample(&mut [0.1, 3.0, -1.0, 2.9], &[1, 1]), 3);
    }

    #[test]
    fn same_seed_same_samples_and_top_k_restricts() {
        let mut p = params(1.0);
        p.top_k = Some(2);
        let logits = [1.0f32, 1.2, 0.9, 1.1, 5.0];
        let run = |p: &GenerateParams| {
            let mut s = Sampler::new(p);
            (0..200)
                .map(|_| s.sample(&mut logits.clone(), &[]))
                .collect::<Vec<_>>()
        };
        let a = run(&p);
        assert_eq!(a, run(&p));
        assert!(a.iter().all(|&t| t == 4 || t == 1), "{a:?}");
        assert!(
            a.contains(&1),
            "a temperature of 1 should sometimes pick the runner-up"
        );
        p.seed += 1;
        assert_ne!(a, run(&p));
    }

    #[test]
    fn top_p_keeps_the_nucleus() {
        let mut p = params(1.0);
        p.top_p = Some(0.5);
        let mut s = Sampler::new(&p);
        // Token 0 alone has ~0.84 of the mass: it is the whole nucleus.
        for _ in 0..100 {
            assert_eq!(s.sample(&mut [3.0, 1.0, 0.5, 0.0], &[]), 0);
        }
    }
}
