//! The tantivy schema and the analyzer shared by indexing and querying.
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, STORED, STRING,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};

/// Name under which [`analyzer`] is registered with each index.
pub const ANALYZER: &str = "en_ama";

/// English words, lower-cased and stemmed: "Kyiv's attacks" and "attacked Kyiv" share
/// `kyiv` and `attack`. Stop words are kept: dropping them lost recall on the SQuAD bench
/// (recall@1 0.855 → 0.845), as some ("no", "not", "after") carry meaning in questions.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `article-id#ordinal`.
    pub passage_id: Field,
    pub article_id: Field,
    /// Position of the passage in the index's passage store.
    pub slot: Field,
    pub title: Field,
    pub body: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        passage_id: builder.add_text_field("passage_id", STRING | STORED),
        article_id: builder.add_text_field("article_id", STRING | STORED),
        slot: builder.add_u64_field("slot", STORED),
        title: builder.add_text_field("title", text.clone()),
        body: builder.add_text_field("body", text),
    };
    (builder.build(), fields)
}

/// Looks the fields up by name in an opened index's schema.
pub fn fields_of(schema: &Schema) -> tantivy::Result<Fields> {
    Ok(Fields {
        passage_id: schema.get_field("passage_id")?,
        article_id: schema.get_field("article_id")?,
        slot: schema.get_field("slot")?,
        title: schema.get_field("title")?,
        body: schema.get_field("body")?,
    })
}
