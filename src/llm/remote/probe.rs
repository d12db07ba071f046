//! Whether the model server is up: its generations' outcomes go to the shared
//! [`crate::health::Health`] tracker, and while it is down its model list is probed.
use std::sync::Weak;
use std::time::Duration;

use serde::Deserialize;

use super::request::describe;
use super::Shared;
use crate::health::HealthChange;

/// Failures in a row after which the backend counts as down.
pub const DOWN_AFTER: u32 = 3;
/// How often a down backend is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

impl Shared {
    /// A generation or probe succeeded.
    pub(super) fn record_success(&self) {
        if self.health.succeeded() == HealthChange::CameBack {
            tracing::info!("the model server is back");
        }
    }

    /// A generation or probe failed with `error`.
    pub(super) fn record_failure(&self, error: &str) {
        if self.health.failed(error) == HealthChange::WentDown {
            tracing::warn!(
                "the model server is down ({error}); answers quote their evidence until it is back"
            );
        }
    }
}

/// The ids of the server's models (`/v1/models`).
pub(super) async fn list_models(
    client: &reqwest::Client,
    url: &str,
) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Card {
        id: String,
    }
    #[derive(Deserialize)]
    struct List {
        data: Vec<Card>,
    }
    let response = client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let list: List = response
        .json()
        .await
        .map_err(|e| format!("{url}: not a model list: {e}"))?;
    Ok(list.data.into_iter().map(|c| c.id).collect())
}

/// While the backend is down, asks for its model list every [`PROBE_EVERY`]; ends with the
/// model.
pub(super) async fn probe_while_down(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if !shared.health.is_down() {
            continue;
        }
        match list_models(&shared.client, &shared.endpoints.models).await {
            Ok(_) => shared.record_success(),
            Err(e) => shared.record_failure(&e),
        }
    }
}
