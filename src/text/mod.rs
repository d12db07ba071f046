//! Small text utilities shared by the index, the answer flow, the store and the benchmarks.
//!
//! - [`words`](mod@words): words of a text, stop words and content words, the normalised form;
//! - [`references`](mod@references): pronouns, and sentences that lean on the one before;
//! - [`facts`](mod@facts): the numbers and names a sentence states.
pub mod facts;
pub mod references;
pub mod words;

pub use facts::facts;
pub use references::{is_pronoun, starts_with_reference};
pub use words::{contains_normalised, content_words, is_stop_word, normalise, words};
