//! Scores of an answer against the gold answers of a question set.
use crate::text::normalise;

/// Token-level F1 between two texts after normalisation (SQuAD's measure).
pub fn token_f1(prediction: &str, gold: &str) -> f64 {
    let p: Vec<String> = normalise(prediction)
        .split(' ')
        .map(str::to_string)
        .collect();
    let g: Vec<String> = normalise(gold).split(' ').map(str::to_string).collect();
    if p.iter().all(|w| w.is_empty()) || g.iter().all(|w| w.is_empty()) {
        return 0.0;
    }
    let mut remaining = g.clone();
    let mut common = 0usize;
    for w in &p {
        if let Some(i) = remaining.iter().position(|x| x == w) {
            remaining.swap_remove(i);
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / g.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_f1_counts_shared_words() {
        assert!((token_f1("General Syrsky", "the seasoned General Syrsky") - 0.8).abs() < 1e-9);
    }
}
