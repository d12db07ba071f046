//! Local language model engine (see issue 7).
