//! `GET /api/widget/article`: what the embeddable widget shows before anything is asked, for
//! the article named by its id or found by the page's address (`<link rel="canonical">` or
//! `og:url`, matched to the `url` each article has from its front matter or HTML).
use super::api::ARTICLE_RELATED;
use super::error::ApiError;
use super::AppState;
use crate::corpus::Article;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WidgetArticleParams {
    /// The article's id (as in `/api/articles`).
    #[serde(default)]
    pub id: Option<String>,
    /// The page's address, to find the article whose `url` it is (used without `id`).
    #[serde(default)]
    pub url: Option<String>,
}

/// An article as the widget shows it: no text, its suggested questions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WidgetArticle {
    pub id: String,
    pub title: String,
    pub date: Option<String>,
    pub url: Option<String>,
    /// Suggested questions this article answers (answered at once: prepared ahead of time).
    pub related: Vec<String>,
}

/// An article for the widget, by id or by the page's address.
#[utoipa::path(get, path = "/api/widget/article", tag = "articles", params(WidgetArticleParams),
    responses(
        (status = 200, description = "The article's title, date, address and suggested questions", body = WidgetArticle),
        (status = "default", description = "An error (404 when no article has that id or address, 422 with neither)", body = super::error::ErrorBody),
    ))]
pub async fn widget_article(
    State(state): State<Arc<AppState>>,
    params: Result<Query<WidgetArticleParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<WidgetArticle>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let answerer = state.answerer()?;
    let index = answerer.index();
    let id = params
        .id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let url = params
        .url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let article = match (id, url) {
        (Some(id), _) => index
            .article(id)
            .ok_or_else(|| ApiError::NotFound(format!("no article {id:?}")))?,
        (None, Some(url)) => find_by_url(index.articles(), url)
            .ok_or_else(|| ApiError::NotFound(format!("no article has the address {url:?}")))?,
        (None, None) => {
            return Err(ApiError::Unprocessable(
                "give the article's id or the page's url".into(),
            ))
        }
    };
    let related = answerer
        .suggestions()
        .map(|store| {
            store
                .for_article(&article.id, ARTICLE_RELATED)
                .into_iter()
                .map(|s| s.question.clone())
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(WidgetArticle {
        id: article.id.clone(),
        title: article.title.clone(),
        date: article.date.clone(),
        url: article.url.clone(),
        related,
    }))
}

/// The article whose address is `url`: the same page whatever the scheme, `www.`, default
/// port, fragment, trailing slash or tracking parameters; else the article whose address has
/// no query at all, when `url` is it with a query.
pub fn find_by_url<'a>(articles: &'a [Article], url: &str) -> Option<&'a Article> {
    let wanted = normalise(url)?;
    let with_url = || {
        articles
            .iter()
            .filter_map(|a| Some((a, normalise(a.url.as_deref()?)?)))
    };
    if let Some((a, _)) = with_url().find(|(_, u)| *u == wanted) {
        return Some(a);
    }
    // A page with extra parameters (`?page=2`) is the article whose address has none.
    let bare = without_query(&wanted);
    with_url().find(|(_, u)| u == bare).map(|(a, _)| a)
}

/// `host/path?query`, lower-cased host, for comparing addresses; `None` for what is not an
/// absolute http(s) address.
fn normalise(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, path_query) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host
        .strip_suffix(":80")
        .or_else(|| host.strip_suffix(":443"))
        .unwrap_or(&host);
    let host = host
        .strip_prefix("www.")
        .unwrap_or(host)
        .trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let path = path.trim_end_matches('/');
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("").to_ascii_lowercase();
            !(key.starts_with("utm_")
                || matches!(key.as_str(), "fbclid" | "gclid" | "mc_cid" | "mc_eid"))
        })
        .collect();
    let mut out = format!("{host}{path}");
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    Some(out)
}

fn without_query(normalised: &str) -> &str {
    normalised.split('?').next().unwrap_or(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, url: Option<&str>) -> Article {
        Article {
            id: id.into(),
            path: id.into(),
            title: id.into(),
            date: None,
            url: url.map(str::to_string),
            text: String::new(),
        }
    }

    #[test]
    fn the_same_page_under_its_variants() {
        let articles = [
            article("a", Some("https://news.example/world/kursk-stakes")),
            article("b", Some("https://news.example/story?id=7")),
            article("c", None),
        ];
        for page in [
            "https://news.example/world/kursk-stakes",
            "http://www.news.example/world/kursk-stakes/",
            "https://NEWS.example:443/world/kursk-stakes#comments",
            "https://news.example/world/kursk-stakes?utm_source=x&fbclid=y",
            "https://news.example/world/kursk-stakes?page=2",
        ] {
            assert_eq!(
                find_by_url(&articles, page).map(|a| a.id.as_str()),
                Some("a"),
                "{page}"
            );
        }
        assert_eq!(
            find_by_url(&articles, "https://news.example/story?id=7&utm_medium=m")
                .map(|a| &a.id[..]),
            Some("b")
        );
        assert!(find_by_url(&articles, "https://news.example/story?id=8").is_none());
        for other in [
            "https://news.example/world/other",
            "https://elsewhere.example/world/kursk-stakes",
            "ftp://news.example/world/kursk-stakes",
            "/world/kursk-stakes",
            "",
        ] {
            assert!(find_by_url(&articles, other).is_none(), "{other}");
        }
    }
}
