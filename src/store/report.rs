//! The editors' report: what readers ask most, what they ask that the articles do not cover
//! (declined), and the answers they marked not useful, with counts.
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::{Backend, StoreError};

/// One question of a list, its forms grouped (case, punctuation and articles aside).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportRow {
    pub question: String,
    pub count: i64,
    /// Unix seconds of the latest.
    pub last: i64,
    /// The latest answer given (for the not-useful list: the one marked).
    pub answer: Option<String>,
    /// A reader's comment (not-useful list).
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub backend: Backend,
    pub questions: i64,
    pub declined_count: i64,
    /// Answers that quoted their evidence because the model failed.
    pub degraded_count: i64,
    /// Answers served from the answer cache, and from suggestions' prepared answers.
    pub cached_count: i64,
    pub precomputed_count: i64,
    pub feedback: i64,
    pub not_useful_count: i64,
    pub most_asked: Vec<ReportRow>,
    pub declined: Vec<ReportRow>,
    pub not_useful: Vec<ReportRow>,
}

fn rows(found: Vec<AnyRow>) -> Result<Vec<ReportRow>, sqlx::Error> {
    found
        .iter()
        .map(|r| {
            Ok(ReportRow {
                question: r.try_get("question")?,
                count: r.try_get("n")?,
                last: r.try_get("last")?,
                answer: r.try_get("answer")?,
                comment: r.try_get("comment")?,
            })
        })
        .collect()
}

/// The most frequent questions among those matching `filter`, latest form and answer shown.
async fn grouped(
    pool: &AnyPool,
    filter: &str,
    limit: usize,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let sql = format!(
        "SELECT g.normalised, g.n, g.last, q.question, q.answer, CAST(NULL AS TEXT) AS comment \
         FROM (SELECT normalised, COUNT(*) AS n, MAX(asked_at) AS last, MAX(id) AS latest \
               FROM questions WHERE {filter} GROUP BY normalised) g \
         JOIN questions q ON q.id = g.latest \
         ORDER BY g.n DESC, g.last DESC, q.question LIMIT $1"
    );
    rows(sqlx::query(&sql).bind(limit as i64).fetch_all(pool).await?)
}

pub(super) async fn build(
    pool: &AnyPool,
    backend: Backend,
    limit: usize,
) -> Result<Report, StoreError> {
    let totals = sqlx::query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(declined), 0) AS declined, \
         COALESCE(SUM(degraded), 0) AS degraded, COALESCE(SUM(cached), 0) AS cached, \
         COALESCE(SUM(precomputed), 0) AS precomputed FROM questions",
    )
    .fetch_one(pool)
    .await?;
    let feedback = sqlx::query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(1 - useful), 0) AS not_useful FROM feedback",
    )
    .fetch_one(pool)
    .await?;
    let not_useful = sqlx::query(
        "SELECT g.normalised, g.n, g.last, f.question, f.answer, f.comment \
         FROM (SELECT normalised, COUNT(*) AS n, MAX(given_at) AS last, MAX(id) AS latest \
               FROM feedback WHERE useful = 0 GROUP BY normalised) g \
         JOIN feedback f ON f.id = g.latest \
         ORDER BY g.n DESC, g.last DESC, f.question LIMIT $1",
    )
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    Ok(Report {
        backend,
        questions: totals.try_get("n")?,
        declined_count: totals.try_get("declined")?,
        degraded_count: totals.try_get("degraded")?,
        cached_count: totals.try_get("cached")?,
        precomputed_count: totals.try_get("precomputed")?,
        feedback: feedback.try_get("n")?,
        not_useful_count: feedback.try_get("not_useful")?,
        most_asked: grouped(pool, "1 = 1", limit).await?,
        declined: grouped(pool, "declined = 1", limit).await?,
        not_useful: rows(not_useful)?,
    })
}

impl Report {
    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        let share = |n: i64| {
            if self.questions > 0 {
                format!("{:.0}%", 100.0 * n as f64 / self.questions as f64)
            } else {
                "-".into()
            }
        };
        let mut out = format!(
            "{} questions: {} declined ({}), {} degraded ({}), {} from the answer cache ({}), {} prepared suggestions ({})\n{} verdicts, {} not useful\n",
            self.questions,
            self.declined_count,
            share(self.declined_count),
            self.degraded_count,
            share(self.degraded_count),
            self.cached_count,
            share(self.cached_count),
            self.precomputed_count,
            share(self.precomputed_count),
            self.feedback,
            self.not_useful_count,
        );
        for (title, list) in [
            ("Most asked", &self.most_asked),
            (
                "Declined: what readers want that the articles do not cover",
                &self.declined,
            ),
            ("Marked not useful", &self.not_useful),
        ] {
            out.push_str(&format!("\n{title}\n"));
            if list.is_empty() {
                out.push_str("  (none)\n");
            }
            for row in list {
                out.push_str(&format!("  {:>5}  {}\n", row.count, row.question));
                if let Some(comment) = &row.comment {
                    out.push_str(&format!("         reader: {comment}\n"));
                }
            }
        }
        out
    }
}
